/**
 * Pause, resume and run-now on both backends, each in the schedule's own ledger with operator
 * and reason: a paused schedule makes no run, resume does not catch up what it passed over,
 * run-now goes through intake with the schedule's input and honours the overlap policy.
 */
import { expect, it, vi } from 'vitest';
import { isRunwardenError } from '../../src/errors.js';
import { cancel } from '../../src/orchestrator/operator.js';
import { pauseSchedule, resumeSchedule, runScheduleNow, scheduleDetail, scheduleStatuses } from '../../src/scheduler/index.js';
import { listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { listFires, listScheduleEvents, scheduledTasks, scheduleRunbooks, scheduleWorld } from '../helpers/schedules.js';

vi.setConfig({ testTimeout: 60_000 });

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isRunwardenError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describeBackends('schedule actions', ({ db }) => {
  it('pause, resume and run-now, each in the ledger of the schedule', async () => {
    const clock = fakeClock('2026-08-01T10:00:00Z');
    const runbooks = await scheduleRunbooks('s-ops');
    const w = scheduleWorld(db(), runbooks, clock);
    const s = w.scheduler({ watchdog: false });
    const ctx = () => ({ db: db(), runbooks, env: w.env, secrets: w.secrets, emit: w.emit, now: clock.now() });
    const at = async (iso: string) => {
      clock.set(new Date(iso));
      return s.tick();
    };
    await at('2026-08-01T10:00:00Z');

    clock.set(new Date('2026-08-01T10:05:00Z'));
    await pauseSchedule(ctx(), 's-ops', { operator: 'ana', reason: 'maintenance window' });
    expect(await refusal(pauseSchedule(ctx(), 's-ops', { operator: 'bo', reason: 'again' }))).toMatchObject({ code: 'ACTION_NOT_ALLOWED', message: expect.stringContaining('already paused (by ana') });
    await at('2026-08-01T10:10:01Z');
    await at('2026-08-01T10:20:01Z');
    expect(await scheduledTasks(db(), 's-ops')).toEqual([]);
    expect(await listFires(db(), 's-ops')).toEqual([]);
    expect((await scheduleStatuses(db(), runbooks, clock.now()))[0]).toMatchObject({ health: 'paused', why: 'paused by ana at 2026-08-01T10:05:00.000Z: maintenance window', nextFire: null });

    clock.set(new Date('2026-08-01T10:25:00Z'));
    await resumeSchedule(ctx(), 's-ops', { operator: 'ana', reason: 'window over' });
    expect(await refusal(resumeSchedule(ctx(), 's-ops', { operator: 'ana', reason: 'twice' }))).toMatchObject({ code: 'ACTION_NOT_ALLOWED', message: 'schedule s-ops is not paused' });
    // What it passed over is not caught up; the next fire runs.
    await at('2026-08-01T10:25:01Z');
    expect(await scheduledTasks(db(), 's-ops')).toEqual([]);
    await at('2026-08-01T10:30:01Z');
    const [fired] = await scheduledTasks(db(), 's-ops');
    expect(fired!.externalRef).toBe('schedule:s-ops:2026-08-01T10:30:00.000Z');

    // Run-now honours the overlap policy (skip): refused while the 10:30 run is going.
    clock.set(new Date('2026-08-01T10:31:00Z'));
    expect(await refusal(runScheduleNow(ctx(), 's-ops', { operator: 'ana', reason: 'check the fix' }))).toMatchObject({
      code: 'ACTION_NOT_ALLOWED',
      message: `a run of s-ops is still going (${fired!.id}, queued) and its overlap policy is skip: wait for it to end, or cancel it`,
    });
    await cancel({ db: db(), runbooks, now: clock.now() }, fired!.id, { operator: 'ana', reason: 'stale' });
    const now = await runScheduleNow(ctx(), 's-ops', { operator: 'ana', reason: 'check the fix' });
    expect(now).toMatchObject({ state: 'queued', externalRef: 'schedule:s-ops:run-now:2026-08-01T10:31:00.000Z', requestedBy: 'operator:ana', input: { service: 's-ops' } });
    expect((await listEvents(db(), now.id)).map((e) => [e.type, e.actor, e.type === 'schedule.fired' ? e.data.reason : undefined])).toEqual([
      ['intake.accepted', 'operator:ana', undefined],
      ['schedule.fired', 'operator:ana', 'check the fix'],
    ]);
    expect((await listFires(db(), 's-ops'))[0]).toMatchObject({ kind: 'run_now', outcome: 'created', taskId: now.id });

    const ledger = await listScheduleEvents(db(), 's-ops');
    expect(ledger.map((e) => [e.seq, e.type, e.actor])).toEqual([
      [1, 'schedule.registered', 'scheduler'],
      [2, 'schedule.paused', 'operator:ana'],
      [3, 'schedule.resumed', 'operator:ana'],
      [4, 'fire.created', 'scheduler'],
      [5, 'schedule.run_now', 'operator:ana'],
    ]);
    expect(ledger[1]!.data).toEqual({ operator: 'ana', reason: 'maintenance window' });
    expect(ledger[2]!.data).toEqual({ operator: 'ana', reason: 'window over', pausedSince: '2026-08-01T10:05:00.000Z', passedOver: 2 });
    expect(ledger[4]!.data).toEqual({ operator: 'ana', reason: 'check the fix', taskId: now.id });
    expect(ledger.map((e) => e.at.toISOString())).toEqual([...ledger.map((e) => e.at.toISOString())].sort());

    const detail = await scheduleDetail(db(), runbooks, 's-ops', clock.now());
    expect(detail.events.map((e) => e.type)).toEqual(ledger.map((e) => e.type));
    expect(detail.fires.map((f) => f.kind)).toEqual(['run_now', 'cron']);
  });

  it('refuses an action without operator or reason, and a runbook without a schedule', async () => {
    const runbooks = await scheduleRunbooks('s-ops');
    const w = scheduleWorld(db(), runbooks, fakeClock());
    const ctx = { db: db(), runbooks, env: w.env, secrets: w.secrets, emit: w.emit, now: new Date() };
    expect(await refusal(pauseSchedule(ctx, 's-ops', { operator: 'ana', reason: ' ' }))).toMatchObject({ code: 'REQUEST_INVALID' });
    expect(await refusal(runScheduleNow(ctx, 'nope', { operator: 'ana', reason: 'x' }))).toEqual({ code: 'RUNBOOK_NOT_FOUND', message: 'no runbook nope; scheduled runbooks: s-ops' });
  });
});

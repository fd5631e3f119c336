/**
 * The scheduler against real databases, on a fake clock (the same clock the store passes into
 * SQL): fires at the right times across daylight saving in a named time zone, one task per fire
 * however many schedulers tick at once, missed fires after a downtime with both policies, the
 * overlap policies, a fire refused at intake, and runs that fail without stopping the schedule.
 */
import { expect, it, vi } from 'vitest';
import { cancel } from '../../src/orchestrator/operator.js';
import { openDb, type Db } from '../../src/store/db.js';
import { listEvents } from '../../src/store/tasks.js';
import { scheduleStatuses } from '../../src/scheduler/index.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { listFires, listScheduleEvents, scheduledTasks, scheduleRunbooks, scheduleWorld } from '../helpers/schedules.js';
import { useSim } from '../helpers/sim.js';

vi.setConfig({ testTimeout: 120_000 });
const sim = useSim();

describeBackends('the scheduler', ({ kind, db, url }) => {
  it('fires at the right times across both daylight saving changes in Europe/Berlin, and counts the months it was not running as missed', async () => {
    const clock = fakeClock('2026-03-27T12:00:00Z');
    const w = scheduleWorld(db(), await scheduleRunbooks('s-berlin'), clock);
    const s = w.scheduler({ watchdog: false });
    const tickUntil = async (until: string) => {
      while (clock.now() < new Date(until)) {
        clock.advance(600_000);
        await s.tick();
      }
    };
    await s.tick();
    await tickUntil('2026-03-31T12:00:00Z');
    clock.set(new Date('2026-10-23T12:00:00Z'));
    await s.tick();
    await tickUntil('2026-10-26T12:00:00Z');

    const tasks = await scheduledTasks(db(), 's-berlin');
    expect(tasks.map((t) => t.externalRef)).toEqual(
      [
        '2026-03-28T01:30:00.000Z', // 02:30 CET
        '2026-03-29T01:00:00.000Z', // spring forward: 02:30 does not exist, it runs at 03:00 CEST
        '2026-03-30T00:30:00.000Z', // 02:30 CEST
        '2026-03-31T00:30:00.000Z',
        '2026-10-24T00:30:00.000Z',
        '2026-10-25T00:30:00.000Z', // fall back: once, at the first 02:30
        '2026-10-26T01:30:00.000Z', // 02:30 CET
      ].map((iso) => `schedule:s-berlin:${iso}`),
    );
    // Through normal intake, with the schedule's input, from the scheduler; each made ~10 minutes late at most.
    for (const t of tasks) {
      expect(t).toMatchObject({ state: 'queued', requestedBy: 'scheduler', input: { service: 's-berlin' }, taskClass: 's.berlin' });
      const ev = await listEvents(db(), t.id);
      expect(ev.map((e) => [e.type, e.actor])).toEqual([
        ['intake.accepted', 'scheduler'],
        ['schedule.fired', 'scheduler'],
      ]);
      expect(ev[1]!.data.lateMs).toBeLessThanOrEqual(600_000);
    }
    const missed = (await listScheduleEvents(db(), 's-berlin')).filter((e) => e.type === 'fires.missed');
    expect(missed.map((e) => e.data)).toEqual([{ count: 206, from: '2026-04-01T00:30:00.000Z', to: '2026-10-23T00:30:00.000Z', policy: 'skip', ran: null }]);
    // The next run's ledger is told about them.
    const told = (await listEvents(db(), tasks[4]!.id)).find((e) => e.type === 'schedule.fired')!;
    expect(told.data.missed).toEqual({ count: 206, from: '2026-04-01T00:30:00.000Z', to: '2026-10-23T00:30:00.000Z' });
  });

  it('two schedulers ticking at once make exactly one task per fire over a simulated hour', async () => {
    const clock = fakeClock('2026-02-02T12:00:00Z');
    const runbooks = await scheduleRunbooks('s-minutely');
    // On PostgreSQL each has its own pool (several connections racing); PGlite serves one process.
    const other: Db = kind === 'postgres' ? await openDb(url()) : db();
    try {
      const a = scheduleWorld(db(), runbooks, clock).scheduler({ watchdog: false });
      const b = scheduleWorld(other, runbooks, clock).scheduler({ watchdog: false });
      await Promise.all([a.tick(), b.tick()]);
      while (clock.now() < new Date('2026-02-02T13:00:00Z')) {
        clock.advance(7_000);
        await Promise.all([a.tick(), b.tick()]);
      }
      const expected = Array.from({ length: 60 }, (_, i) => `schedule:s-minutely:${new Date(Date.parse('2026-02-02T12:01:00Z') + i * 60_000).toISOString()}`);
      const tasks = await scheduledTasks(db(), 's-minutely');
      expect(tasks.map((t) => t.externalRef)).toEqual(expected);
      const all = await db().query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE external_ref LIKE 'schedule:s-minutely:%'");
      expect(all[0]!.n).toBe(60);
      const fires = await listFires(db(), 's-minutely', { limit: 1000 });
      expect(fires).toHaveLength(60);
      expect(new Set(fires.map((f) => f.outcome))).toEqual(new Set(['created']));
      // One `fire.created` per fire in the schedule's ledger, one `schedule.fired` per task.
      const created = (await listScheduleEvents(db(), 's-minutely')).filter((e) => e.type === 'fire.created').map((e) => e.data.fireAt);
      expect(created).toEqual(expected.map((r) => r.slice('schedule:s-minutely:'.length)));
      for (const t of tasks) expect((await listEvents(db(), t.id)).filter((e) => e.type === 'schedule.fired')).toHaveLength(1);
    } finally {
      if (other !== db()) await other.close();
    }
  });

  it('after a downtime: missed: skip makes nothing and tells the next run; missed: run-once makes one run for the latest; never a burst', async () => {
    sim().setService('s-skip', { status: 'healthy' });
    sim().setService('s-catchup', { status: 'healthy' });
    const clock = fakeClock('2026-05-01T10:05:00Z');
    const w = scheduleWorld(db(), await scheduleRunbooks('s-skip', 's-catchup'), clock, { simUrl: sim().url });
    const s = w.scheduler({ watchdog: false });
    await s.tick();
    // Down from 10:05 to 13:20: the fires of 11:00, 12:00 and 13:00 pass with nothing running.
    clock.set(new Date('2026-05-01T13:20:00Z'));
    const back = await s.tick();
    expect(back.runs).toEqual({ 's-catchup': [expect.stringMatching(/^tsk_/)] });
    await w.work();
    clock.set(new Date('2026-05-01T14:00:04Z'));
    await s.tick();
    await w.work();

    const note = { count: 3, from: '2026-05-01T11:00:00.000Z', to: '2026-05-01T13:00:00.000Z' };
    const skip = await scheduledTasks(db(), 's-skip');
    expect(skip.map((t) => t.externalRef)).toEqual(['schedule:s-skip:2026-05-01T14:00:00.000Z']);
    expect((await listEvents(db(), skip[0]!.id)).find((e) => e.type === 'schedule.fired')!.data).toMatchObject({ fireAt: '2026-05-01T14:00:00.000Z', lateMs: 4000, missed: note });
    expect((await listScheduleEvents(db(), 's-skip')).filter((e) => e.type === 'fires.missed').map((e) => e.data)).toEqual([{ ...note, policy: 'skip', ran: null }]);

    const once = await scheduledTasks(db(), 's-catchup');
    expect(once.map((t) => [t.externalRef, t.state])).toEqual([
      ['schedule:s-catchup:2026-05-01T13:00:00.000Z', 'completed'],
      ['schedule:s-catchup:2026-05-01T14:00:00.000Z', 'completed'],
    ]);
    expect((await listEvents(db(), once[0]!.id)).find((e) => e.type === 'schedule.fired')!.data).toMatchObject({ lateMs: 20 * 60_000, missed: note });
    expect((await listEvents(db(), once[1]!.id)).find((e) => e.type === 'schedule.fired')!.data.missed).toBeUndefined();
    expect((await listScheduleEvents(db(), 's-catchup')).filter((e) => e.type === 'fires.missed').map((e) => e.data)).toEqual([{ ...note, policy: 'run-once', ran: '2026-05-01T13:00:00.000Z' }]);
  });

  it('overlap: skip records the skip and names the run going, queue starts the waiting fire when the run ends, allow runs beside it; an escalated run holds nothing', async () => {
    const clock = fakeClock('2026-06-01T10:00:00Z');
    const runbooks = await scheduleRunbooks('s-overlap', 's-queue', 's-allow');
    const w = scheduleWorld(db(), runbooks, clock, { simUrl: sim().url });
    const s = w.scheduler({ watchdog: false });
    const at = async (iso: string) => {
      clock.set(new Date(iso));
      return s.tick();
    };
    await at('2026-06-01T10:00:00Z');
    await at('2026-06-01T10:10:01Z'); // each makes its first run; no worker runs, so they stay queued
    await at('2026-06-01T10:20:01Z');
    await at('2026-06-01T10:30:01Z');
    const [skip1] = await scheduledTasks(db(), 's-overlap');
    const [queue1] = await scheduledTasks(db(), 's-queue');
    expect((await scheduledTasks(db(), 's-overlap')).length).toBe(1);
    expect((await scheduledTasks(db(), 's-allow')).map((t) => t.externalRef!.slice(-24))).toEqual(['2026-06-01T10:10:00.000Z', '2026-06-01T10:20:00.000Z', '2026-06-01T10:30:00.000Z']);

    const skipLedger = (await listScheduleEvents(db(), 's-overlap')).filter((e) => e.type === 'fire.skipped').map((e) => e.data);
    expect(skipLedger).toEqual([
      { fireAt: '2026-06-01T10:20:00.000Z', running: skip1!.id, overlap: 'skip' },
      { fireAt: '2026-06-01T10:30:00.000Z', running: skip1!.id, overlap: 'skip' },
    ]);
    const queueLedger = (await listScheduleEvents(db(), 's-queue')).filter((e) => e.type.startsWith('fire.')).map((e) => [e.type, e.data.fireAt]);
    expect(queueLedger).toEqual([
      ['fire.created', '2026-06-01T10:10:00.000Z'],
      ['fire.queued', '2026-06-01T10:20:00.000Z'],
      ['fire.skipped', '2026-06-01T10:30:00.000Z'],
    ]);
    expect((await listFires(db(), 's-queue')).map((f) => [f.fireAt.toISOString().slice(11, 16), f.outcome])).toEqual([
      ['10:30', 'skipped'],
      ['10:20', 'queued'],
      ['10:10', 'created'],
    ]);

    // The runs going end (cancelled): the waiting fire starts at the next tick, as itself.
    const ctx = { db: db(), runbooks, now: clock.now() };
    await cancel(ctx, skip1!.id, { operator: 'ana', reason: 'test' });
    await cancel(ctx, queue1!.id, { operator: 'ana', reason: 'test' });
    await at('2026-06-01T10:35:00Z');
    const queued = await scheduledTasks(db(), 's-queue');
    expect(queued.map((t) => t.externalRef!.slice(-24))).toEqual(['2026-06-01T10:10:00.000Z', '2026-06-01T10:20:00.000Z']);
    expect((await listEvents(db(), queued[1]!.id)).find((e) => e.type === 'schedule.fired')!.data).toMatchObject({ fireAt: '2026-06-01T10:20:00.000Z', waited: true, lateMs: 15 * 60_000 });
    expect((await listFires(db(), 's-queue')).find((f) => f.fireAt.toISOString().endsWith('10:20:00.000Z'))).toMatchObject({ outcome: 'created', taskId: queued[1]!.id });

    // A run that escalates does not hold the schedule up: the next fire runs.
    sim().fault({ method: 'GET', path: '/services/s-overlap/health', status: 403 });
    await at('2026-06-01T10:40:01Z');
    await w.work();
    const [, escalated] = await scheduledTasks(db(), 's-overlap');
    expect(escalated!.state).toBe('escalated');
    await at('2026-06-01T10:50:01Z');
    expect((await scheduledTasks(db(), 's-overlap')).map((t) => t.externalRef!.slice(-24))).toEqual(['2026-06-01T10:10:00.000Z', '2026-06-01T10:40:00.000Z', '2026-06-01T10:50:00.000Z']);
  });

  it('a fire refused at intake is recorded, shows in the health, and the schedule goes on', async () => {
    const clock = fakeClock('2026-09-01T10:00:00Z');
    const runbooks = await scheduleRunbooks('s-guarded');
    const frozen = scheduleWorld(db(), runbooks, clock, { env: { CHANGE_FREEZE: 'true' } });
    await frozen.scheduler().tick();
    clock.set(new Date('2026-09-01T10:10:00Z'));
    const r = await frozen.scheduler().tick();
    const [refused] = await scheduledTasks(db(), 's-guarded');
    expect(r.runs['s-guarded']).toEqual([refused!.id]);
    expect(refused).toMatchObject({ state: 'rejected', externalRef: 'schedule:s-guarded:2026-09-01T10:10:00.000Z' });
    expect((await listFires(db(), 's-guarded'))[0]).toMatchObject({ outcome: 'refused', taskId: refused!.id });
    const ev = (await listScheduleEvents(db(), 's-guarded')).find((e) => e.type === 'fire.refused')!;
    expect(ev.data).toMatchObject({ fireAt: '2026-09-01T10:10:00.000Z', taskId: refused!.id, kind: 'off_policy', problems: [{ path: 'policy.guards.change-freeze', message: 'changes are frozen' }] });
    const [failing] = await scheduleStatuses(db(), runbooks, clock.now());
    expect(failing).toMatchObject({ health: 'failing', why: expect.stringContaining('refused at intake (off_policy: policy.guards.change-freeze: changes are frozen)') });

    // The freeze lifts: the next fire runs and completes, the schedule is ok again.
    const thawed = scheduleWorld(db(), runbooks, clock, { env: { CHANGE_FREEZE: 'false' } });
    clock.set(new Date('2026-09-01T10:20:00Z'));
    await thawed.scheduler().tick();
    await thawed.work();
    const [, ran] = await scheduledTasks(db(), 's-guarded');
    expect(ran!.state).toBe('completed');
    const [ok] = await scheduleStatuses(db(), runbooks, clock.now());
    expect(ok).toMatchObject({ health: 'ok', lastSuccess: { taskId: ran!.id }, lastFire: { at: '2026-09-01T10:20:00.000Z', outcome: 'created' } });
  });
});

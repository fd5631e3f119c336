import { describe, expect, it } from 'vitest';
import { cronTimer } from '../runbook/cron.js';
import type { Schedule } from '../runbook/plan.js';
import type { ScheduleRow } from '../store/schedules.js';
import type { TaskRow } from '../store/tasks.js';
import { scheduleHealth } from './health.js';
import { silenceOf } from './silence.js';

const at = (s: string) => new Date(s);
const hourly = cronTimer('0 * * * *', 'UTC');
const daily = cronTimer('0 3 * * *', 'UTC');

describe('silenceOf', () => {
  it('counts the window from the first fire after the last success', () => {
    const i = { timer: hourly, windowMs: 3_600_000, watchSince: at('2026-01-01T00:00:00Z'), lastSuccessAt: at('2026-01-01T10:02:00Z') };
    expect(silenceOf({ ...i, now: at('2026-01-01T11:59:59Z') })).toEqual({ silent: false, firstDue: at('2026-01-01T11:00:00Z'), deadline: at('2026-01-01T12:00:00Z') });
    expect(silenceOf({ ...i, now: at('2026-01-01T12:00:00Z') }).silent).toBe(true);
  });

  it('a daily job watched with 2h is late two hours after its fire, not all day after yesterday\'s success', () => {
    const i = { timer: daily, windowMs: 2 * 3_600_000, watchSince: at('2026-01-01T00:00:00Z'), lastSuccessAt: at('2026-01-01T03:05:00Z') };
    expect(silenceOf({ ...i, now: at('2026-01-02T04:59:00Z') }).silent).toBe(false);
    expect(silenceOf({ ...i, now: at('2026-01-02T05:00:00Z') }).silent).toBe(true);
  });

  it('a schedule whose first fire has not come is never silent; a resume restarts the window', () => {
    const since = at('2026-01-01T10:30:00Z');
    expect(silenceOf({ timer: daily, windowMs: 60_000, watchSince: since, lastSuccessAt: null, now: at('2026-01-02T02:59:00Z') }).silent).toBe(false);
    // The last success is older than the resume: the window counts from the resume.
    const r = silenceOf({ timer: hourly, windowMs: 600_000, watchSince: since, lastSuccessAt: at('2026-01-01T01:00:00Z'), now: at('2026-01-01T11:09:00Z') });
    expect(r).toEqual({ silent: false, firstDue: at('2026-01-01T11:00:00Z'), deadline: at('2026-01-01T11:10:00Z') });
  });
});

describe('scheduleHealth', () => {
  const schedule: Schedule = { cron: '0 * * * *', timezone: 'UTC', input: {}, missed: 'skip', overlap: 'skip', expectSuccessWithinMs: 3_600_000 };
  const row = (o: Partial<ScheduleRow> = {}): ScheduleRow => ({
    runbookId: 'nightly',
    cron: schedule.cron,
    timezone: 'UTC',
    cursorAt: at('2026-01-01T10:00:00Z'),
    watchSince: at('2026-01-01T00:00:00Z'),
    paused: false,
    pausedAt: null,
    pausedBy: null,
    pauseReason: null,
    queuedFireAt: null,
    missedNote: null,
    alertPacketId: null,
    alertSince: null,
    eventSeq: 1,
    createdAt: at('2026-01-01T00:00:00Z'),
    updatedAt: at('2026-01-01T10:00:00Z'),
    ...o,
  });
  const task = (o: Partial<TaskRow>): TaskRow => ({ id: 'tsk_1', state: 'completed', updatedAt: at('2026-01-01T10:01:00Z'), escalation: null, rejection: null, ...o }) as TaskRow;
  const health = (o: Partial<Parameters<typeof scheduleHealth>[0]>) =>
    scheduleHealth({ schedule, timer: hourly, row: row(), latestFire: undefined, latestRun: undefined, lastSuccess: undefined, now: at('2026-01-01T10:30:00Z'), ...o });

  it('ok after a completed run', () => {
    const t = task({});
    expect(health({ latestRun: t, lastSuccess: t })).toMatchObject({ health: 'ok', why: 'the last run completed at 2026-01-01T10:01:00.000Z', nextFireAt: at('2026-01-01T11:00:00Z') });
  });

  it('failing while the latest run is escalated or refused, with why; the failure does not pause it', () => {
    const esc = task({ id: 'tsk_2', state: 'escalated', escalation: { kind: 'retries_exhausted', failureClass: 'transient', step: 'restart', message: '', at: '' } });
    expect(health({ latestRun: esc, lastSuccess: task({}) })).toMatchObject({ health: 'failing', why: 'the latest run, tsk_2, is escalated (retries_exhausted at restart); the schedule goes on firing' });
    const refused = task({ id: 'tsk_3', state: 'rejected', rejection: { kind: 'off_policy', problems: [{ path: 'policy.guards.freeze', message: 'frozen' }] } });
    expect(health({ latestRun: refused }).why).toContain('refused at intake (off_policy: policy.guards.freeze: frozen)');
  });

  it('late when a fire is overdue (no scheduler), or no run completed in the window', () => {
    expect(health({ now: at('2026-01-01T11:05:00Z') })).toMatchObject({ health: 'late', why: expect.stringContaining('the fire at 2026-01-01T11:00:00.000Z has not happened') });
    const silent = health({ row: row({ cursorAt: at('2026-01-01T12:00:00Z') }), now: at('2026-01-01T12:00:30Z'), lastSuccess: task({}) });
    expect(silent).toMatchObject({ health: 'late', why: expect.stringContaining('no run completed within 1h of the fire at 2026-01-01T11:00:00.000Z') });
  });

  it('paused outranks everything; a schedule no scheduler has seen is late', () => {
    expect(health({ row: row({ paused: true, pausedBy: 'ana', pausedAt: at('2026-01-01T10:10:00Z'), pauseReason: 'maintenance' }), now: at('2026-01-02T00:00:00Z') })).toMatchObject({
      health: 'paused',
      why: 'paused by ana at 2026-01-01T10:10:00.000Z: maintenance',
    });
    expect(health({ row: undefined }).health).toBe('late');
  });
});

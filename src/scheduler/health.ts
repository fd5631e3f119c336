/**
 * A schedule's health and why, from what is stored: `paused`, `late`, `failing` or `ok`, most
 * urgent first. Pure: the reads are the caller's (schedule-status.ts).
 *
 * A run that ends failed, escalated or refused makes the schedule `failing`, never stops it: the
 * next fire runs as usual, and the first run that completes makes it `ok` again. (Schedulers that
 * disable a job after N errors turn a noisy failure into a silent one.)
 */
import type { ScheduleHealth } from '../lifecycle/schedule-vocabulary.js';
import type { CronTimer } from '../runbook/cron.js';
import type { Schedule } from '../runbook/plan.js';
import type { FireRow, ScheduleRow } from '../store/schedules.js';
import type { TaskRow } from '../store/tasks.js';
import { DEFAULT_GRACE_MS } from './fires.js';
import { silenceMessage, silenceOf } from './silence.js';

/** What health is judged from. */
export interface HealthInput {
  schedule: Schedule;
  timer: CronTimer;
  /** Undefined until a scheduler has seen the schedule. */
  row: ScheduleRow | undefined;
  latestFire: FireRow | undefined;
  latestRun: TaskRow | undefined;
  lastSuccess: TaskRow | undefined;
  now: Date;
  graceMs?: number;
}

export interface HealthVerdict {
  health: ScheduleHealth;
  why: string;
  /** The next fire after now. */
  nextFireAt: Date | null;
  /** When a silent-failure packet goes out unless a run completes first; null when not watched. */
  silentAt: Date | null;
}

/** States in which a run ended without completing, or stopped for a person. */
const FAILED: ReadonlySet<string> = new Set(['escalated', 'in_handover', 'failed', 'cancelled', 'rolled_back', 'partially_completed', 'rejected']);

const iso = (d: Date) => d.toISOString();

/** How a run ended or stands, in a few words: `escalated (retries_exhausted at restart)`. */
export function runState(t: TaskRow): string {
  if (t.state === 'rejected') {
    const r = t.rejection as { kind?: string; problems?: { path?: string; message?: string }[] } | null;
    const first = r?.problems?.[0];
    return `refused at intake (${r?.kind ?? 'rejected'}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message ?? ''}` : ''})`;
  }
  const why = t.escalation && FAILED.has(t.state) ? ` (${t.escalation.kind}${t.escalation.step ? ` at ${t.escalation.step}` : ''})` : '';
  return `${t.state}${why}`;
}

export function scheduleHealth(i: HealthInput): HealthVerdict {
  const { row, now } = i;
  const nextFireAt = i.timer.next(now);
  const grace = i.graceMs ?? DEFAULT_GRACE_MS;
  const window = i.schedule.expectSuccessWithinMs;
  const silence = row && window !== undefined ? silenceOf({ timer: i.timer, windowMs: window, watchSince: row.watchSince, lastSuccessAt: i.lastSuccess?.updatedAt ?? null, now }) : null;
  const silentAt = silence?.deadline ?? null;
  const verdict = (health: ScheduleHealth, why: string): HealthVerdict => ({ health, why, nextFireAt, silentAt });

  if (!row) return verdict('late', 'no scheduler has run this schedule yet: runwarden work (or serve) runs it');
  if (row.paused) return verdict('paused', `paused by ${row.pausedBy ?? 'an operator'} at ${row.pausedAt ? iso(row.pausedAt) : '?'}: ${row.pauseReason ?? 'no reason given'}`);
  const overdue = i.timer.next(row.cursorAt);
  if (overdue && now.getTime() - overdue.getTime() > grace) {
    return verdict('late', `the fire at ${iso(overdue)} has not happened: no scheduler is running (runwarden work or serve runs it)`);
  }
  if (silence?.silent && silence.firstDue) {
    const latest = i.latestRun ? `${i.latestRun.id}, is ${runState(i.latestRun)}` : undefined;
    return verdict('late', silenceMessage({ windowMs: window!, firstDue: silence.firstDue, lastSuccessAt: i.lastSuccess?.updatedAt ?? null, ...(latest ? { latest } : {}) }));
  }
  const run = i.latestRun;
  if (run && FAILED.has(run.state)) return verdict('failing', `the latest run, ${run.id}, is ${runState(run)}; the schedule goes on firing`);
  if (i.latestFire?.outcome === 'skipped' && run) return verdict('ok', `the fire at ${iso(i.latestFire.fireAt)} was skipped: ${run.id} was still ${run.state} (overlap: ${i.schedule.overlap})`);
  if (run && run.state !== 'completed') return verdict('ok', `${run.id} is ${runState(run)}`);
  if (i.lastSuccess) return verdict('ok', `the last run completed at ${iso(i.lastSuccess.updatedAt)}`);
  return verdict('ok', nextFireAt ? `no run yet; the first fire is at ${iso(nextFireAt)}` : 'no run yet, and the cron names no later time');
}

/**
 * `expectSuccessWithin`: the silence when nothing runs, judged the way Prefect's "no completion
 * within" and Cronitor's grace periods judge it, from what is stored only. Pure.
 *
 * The window opens at the first fire after the later of the last completed run and the time the
 * schedule was last (re)started (registered, resumed, its cron changed): when it has been open
 * `expectSuccessWithin` with no completed run, the schedule is silent. Counting from a fire, not
 * from the last success, means a daily job watched with `2h` is late two hours after its fire
 * instead of all day, and a schedule whose first fire has not come is never silent.
 */
import type { CronTimer } from '../runbook/cron.js';
import { formatDuration } from '../runbook/duration.js';

export interface SilenceInput {
  timer: CronTimer;
  windowMs: number;
  /** When the schedule was last (re)started: registered, resumed, its cron changed. */
  watchSince: Date;
  /** When the schedule's last completed run completed; null when none has. */
  lastSuccessAt: Date | null;
  now: Date;
}

export interface Silence {
  silent: boolean;
  /** The fire the window counts from; null when the schedule never fires again. */
  firstDue: Date | null;
  /** `firstDue` plus the window: silent from then on unless a run completes. */
  deadline: Date | null;
}

export function silenceOf(i: SilenceInput): Silence {
  const from = i.lastSuccessAt && i.lastSuccessAt > i.watchSince ? i.lastSuccessAt : i.watchSince;
  const firstDue = i.timer.next(from);
  if (!firstDue) return { silent: false, firstDue: null, deadline: null };
  const deadline = new Date(firstDue.getTime() + i.windowMs);
  return { silent: deadline.getTime() <= i.now.getTime(), firstDue, deadline };
}

/**
 * The sentence a silent schedule is reported with (health, the packet's reason):
 * `no run completed within 1h of the fire at ...; the last completed at ...`.
 */
export function silenceMessage(s: { windowMs: number; firstDue: Date; lastSuccessAt: Date | null; latest?: string }): string {
  const last = s.lastSuccessAt ? `the last completed at ${s.lastSuccessAt.toISOString()}` : 'none has completed yet';
  return `no run completed within ${formatDuration(s.windowMs)} of the fire at ${s.firstDue.toISOString()} (${last}${s.latest ? `; the latest, ${s.latest}` : ''})`;
}

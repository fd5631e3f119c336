/**
 * A schedule's cron expression read in its time zone, the one way runwarden reads it: at load
 * (checks.ts) and in the scheduler, so a cron that validates is the cron that fires. Times are
 * whole seconds (croner drops milliseconds), fires are strictly after the time asked about.
 *
 * Daylight saving follows croner (the same rules as Vixie cron): a fixed-time job (`30 2 * * *`)
 * whose time does not exist on a spring-forward day runs when the clock has jumped, and runs once
 * on a fall-back day when its time occurs twice; an interval job (`*\/15 * * * *`) skips the
 * missing times and runs on both passes of the repeated ones.
 */
import { Cron } from 'croner';

/** A cron expression in a time zone: when it fires. */
export interface CronTimer {
  readonly cron: string;
  readonly timezone: string;
  /** The first fire strictly after `after`, or null when it never fires again. */
  next(after: Date): Date | null;
  /** The last fire at or before `at`, or null when it never fired. */
  latest(at: Date): Date | null;
}

const cache = new Map<string, CronTimer>();

/**
 * The timer of `cron` in `timezone` (an IANA name). Throws croner's error for an expression it
 * cannot read or a zone it does not know (the runbook checks turn that into a finding).
 */
export function cronTimer(cron: string, timezone: string): CronTimer {
  const key = `${timezone}\u0000${cron}`;
  let timer = cache.get(key);
  if (!timer) {
    const job = new Cron(cron, { paused: true, timezone });
    timer = {
      cron,
      timezone,
      next: (after) => job.nextRun(after),
      // previousRuns looks strictly before its reference: a millisecond on, a fire at `at` counts.
      latest: (at) => job.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null,
    };
    cache.set(key, timer);
  }
  return timer;
}

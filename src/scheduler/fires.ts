/**
 * What a schedule does at one tick: the pure decision over its stored state (the cursor, a fire
 * waiting behind a run, missed fires not yet told), the run still going, and the time. The
 * scheduler (scheduler.ts) applies the result in one transaction.
 *
 * Fires are handled in time order from the cursor. Only the latest fire due can make a task: any
 * earlier one in the same tick, and the latest too when it is more than the grace late, passed
 * while no scheduler ran (missed). `missed: skip` makes nothing for them and tells the next run's
 * ledger how many there were, from when to when; `run-once` makes one task for the latest of
 * them. Never a burst.
 */
import type { CronTimer } from '../runbook/cron.js';
import type { Schedule } from '../runbook/plan.js';
import type { MissedNote } from '../store/schedules.js';

/** Fires counted one by one after a downtime; past this the count is a lower bound. */
export const MISSED_COUNT_LIMIT = 1000;

/** Default grace: a fire handled up to this late is still on time (a slow tick, a restart). */
export const DEFAULT_GRACE_MS = 60_000;

/** What the schedule holds between ticks (the `schedules` row). */
export interface FireState {
  cursorAt: Date;
  paused: boolean;
  queuedFireAt: Date | null;
  missedNote: MissedNote | null;
}

/** The run a fire found going: a stored task, or the one this tick starts for an earlier fire. */
export type GoingRun = { taskId: string } | { fireAt: Date };

/** One thing to do, in order. */
export type FireAction =
  /** Make the task of this fire (`queued`: it waited behind a run; `missed`: fires to tell its ledger). */
  | { type: 'fire'; at: Date; lateMs: number; queued: boolean; missed: MissedNote | null }
  /** A run is still going: this fire makes nothing (`waiting`: a fire already waits in the queue). */
  | { type: 'skip'; at: Date; running: GoingRun; waiting: boolean }
  /** A run is still going: this fire waits for it (overlap queue). */
  | { type: 'queue'; at: Date; behind: GoingRun }
  /** Fires that passed while no scheduler ran; `ran` is the one run for them (run-once), if any. */
  | { type: 'missed'; note: MissedNote; policy: Schedule['missed']; ran: Date | null };

export interface FirePlan {
  actions: FireAction[];
  /** The state after the actions. */
  next: FireState;
}

/** The fires due in (after, until]: how many (up to the limit), the first, the one before the last, the last. */
export function dueFires(timer: CronTimer, after: Date, until: Date, limit = MISSED_COUNT_LIMIT): { count: number; more: boolean; first: Date | null; beforeLast: Date | null; last: Date | null } {
  let count = 0;
  let first: Date | null = null;
  let prev: Date | null = null;
  let last: Date | null = null;
  for (let t = timer.next(after); t && t <= until; t = timer.next(t)) {
    count += 1;
    first ??= t;
    prev = last;
    last = t;
    if (count >= limit) {
      // Past the limit only the latest matters: counting a week of per-second fires would stall the tick.
      const latest = timer.latest(until);
      if (latest && latest > last) return { count, more: true, first, beforeLast: timer.latest(new Date(latest.getTime() - 1)) ?? last, last: latest };
      break;
    }
  }
  return { count, more: false, first, beforeLast: prev, last };
}

function merge(a: MissedNote | null, b: MissedNote | null): MissedNote | null {
  if (!a) return b;
  if (!b) return a;
  return { count: a.count + b.count, from: a.from < b.from ? a.from : b.from, to: a.to > b.to ? a.to : b.to, ...(a.more || b.more ? { more: true } : {}) };
}

/**
 * The tick's decision. `going` is the schedule's run still going (its task id), if any. A paused
 * schedule does nothing: the fires it passes over are counted when it is resumed.
 */
export function decideFires(schedule: Schedule, timer: CronTimer, state: FireState, going: string | null, now: Date, graceMs = DEFAULT_GRACE_MS): FirePlan {
  const next: FireState = { ...state };
  const actions: FireAction[] = [];
  if (state.paused) return { actions, next };
  let running: GoingRun | null = going ? { taskId: going } : null;
  // A fire waiting behind a run starts once nothing is going, before anything newer.
  if (next.queuedFireAt && !running) {
    actions.push({ type: 'fire', at: next.queuedFireAt, lateMs: now.getTime() - next.queuedFireAt.getTime(), queued: true, missed: next.missedNote });
    running = { fireAt: next.queuedFireAt };
    next.queuedFireAt = null;
    next.missedNote = null;
  }
  const due = dueFires(timer, state.cursorAt, now);
  if (!due.last) return { actions, next };
  const latest = due.last;
  const onTime = now.getTime() - latest.getTime() <= graceMs;
  // The fires nothing will run: all but the latest, and the latest too when it is late.
  const missedCount = onTime ? due.count - 1 : due.count;
  const missedLast = onTime ? due.beforeLast : latest;
  let missed: MissedNote | null = null;
  if (missedCount > 0 && due.first && missedLast) {
    missed = { count: missedCount, from: due.first.toISOString(), to: missedLast.toISOString(), ...(due.more ? { more: true } : {}) };
  }
  const fireAt = onTime || (missed && schedule.missed === 'run-once') ? latest : null;
  if (missed) actions.push({ type: 'missed', note: missed, policy: schedule.missed, ran: fireAt });
  next.missedNote = merge(next.missedNote, missed);
  next.cursorAt = latest;
  if (!fireAt) return { actions, next };
  if (running && schedule.overlap !== 'allow') {
    if (schedule.overlap === 'queue' && !next.queuedFireAt) {
      actions.push({ type: 'queue', at: fireAt, behind: running });
      next.queuedFireAt = fireAt;
    } else {
      actions.push({ type: 'skip', at: fireAt, running, waiting: schedule.overlap === 'queue' });
    }
    return { actions, next };
  }
  actions.push({ type: 'fire', at: fireAt, lateMs: now.getTime() - fireAt.getTime(), queued: false, missed: next.missedNote });
  next.missedNote = null;
  return { actions, next };
}

/**
 * The scheduler: runs in every `work` and `serve` process (service.ts), ticks about once a second
 * and, for each loaded runbook with a `schedule`, makes the task of each fire, applies the
 * `missed` and `overlap` policies and watches `expectSuccessWithin`; then looks for stuck tasks.
 *
 * Exactly one task per fire however many schedulers run: each schedule is handled in one
 * transaction that takes its advisory lock (on PostgreSQL another process handling it right now
 * is passed over, never waited for), locks its row, and claims each fire's row before making its
 * task; the fire's primary key (runbook, time) and the task's `externalRef` make a second attempt
 * a no-op even without the lock, so the embedded database gets the same guarantee.
 *
 * Time is the injected clock's and goes into SQL as parameters, so a fake clock drives it
 * against a real database. A tick the database was away for is tried again at the next one.
 */
import type { Logger } from '../log.js';
import { systemClock, type Clock } from '../orchestrator/clock.js';
import { cronTimer } from '../runbook/cron.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { EmitContext } from '../escalation/emit.js';
import type { Db } from '../store/db.js';
import { isDatabaseUnavailable } from '../store/outage.js';
import {
  changeSchedule,
  claimFire,
  getScheduleRow,
  goingRun,
  listScheduleRows,
  registerSchedule,
  tryLockSchedule,
  type NewScheduleEvent,
  type SchedulePatch,
  type ScheduleRow,
} from '../store/schedules.js';
import { DEFAULT_GRACE_MS, decideFires, type GoingRun } from './fires.js';
import { watchSilence } from './silent-alert.js';
import { SCHEDULER_ACTOR, startRun, type RunContext } from './start-run.js';
import { StuckTaskWatch, type StuckReport } from './stuck-tasks.js';

export interface SchedulerOptions extends RunContext {
  db: Db;
  runbooks: RunbookSet;
  emit: EmitContext;
  logger: Logger;
  clock?: Clock;
  /** Between ticks. Default 1s. */
  tickMs?: number;
  /** A fire handled up to this late still runs as itself; older ones count as missed. Default 60s. */
  graceMs?: number;
  /** How often a watched schedule's silence is looked at (and an open alert's recovery). Default 5s. */
  watchMs?: number;
  /** The workers' lease, for the stuck-task watchdog. Default 30s. */
  leaseMs?: number;
  /** Run the stuck-task watchdog. Default true. */
  watchdog?: boolean;
  /** How often the watchdog looks (it acts on a second look a lease after the first). Default 5s. */
  watchdogEveryMs?: number;
}

/** What one tick did, per schedule, and what the watchdog found. */
export interface TickReport {
  /** Tasks made (refused ones included), by runbook. */
  runs: Record<string, string[]>;
  /** Schedules another scheduler was handling (passed over). */
  busy: string[];
  stuck: StuckReport | null;
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly stuck: StuckTaskWatch | null;
  /** When each watched schedule's silence is next looked at (ms since the epoch). */
  private readonly watchAt = new Map<string, number>();
  private readonly stopCtl = new AbortController();
  private running: Promise<void> | null = null;
  private lastLook = -Infinity;

  constructor(private readonly o: SchedulerOptions) {
    this.clock = o.clock ?? systemClock;
    this.stuck = o.watchdog === false ? null : new StuckTaskWatch({ db: o.db, runbooks: o.runbooks, emit: o.emit, logger: o.logger, leaseMs: o.leaseMs ?? 30_000 });
  }

  /** The loaded runbooks that have a schedule. */
  scheduled(): CompiledRunbook[] {
    return this.o.runbooks.runbooks.filter((r) => r.schedule);
  }

  /** Ticks until `stop()`. Errors other than the database being away are logged, never fatal. */
  run(): Promise<void> {
    this.running ??= (async () => {
      const log = this.o.logger.child({ component: 'scheduler' });
      log.info({ schedules: this.scheduled().map((r) => r.id) }, 'scheduler started');
      while (!this.stopCtl.signal.aborted) {
        try {
          await this.tick();
        } catch (err) {
          if (!isDatabaseUnavailable(err)) log.error({ err }, 'scheduler tick failed; trying again at the next');
        }
        await this.clock.sleep(this.o.tickMs ?? 1000, this.stopCtl.signal);
      }
      log.info('scheduler stopped');
    })();
    return this.running;
  }

  /** Stops after the tick in progress. */
  async stop(): Promise<void> {
    this.stopCtl.abort();
    await this.running;
  }

  /** One pass at the clock's time: every schedule, then the stuck-task watchdog. */
  async tick(): Promise<TickReport> {
    const now = this.clock.now();
    const report: TickReport = { runs: {}, busy: [], stuck: null };
    const scheduled = this.scheduled();
    if (scheduled.length) {
      const rows = new Map((await listScheduleRows(this.o.db)).map((r) => [r.runbookId, r]));
      for (const plan of scheduled) {
        if (!this.due(plan, rows.get(plan.id), now)) continue;
        let r: string[] | 'busy';
        try {
          r = await this.handle(plan, now);
        } catch (err) {
          // One schedule's trouble must not hold up the others; the database being away ends the tick.
          if (isDatabaseUnavailable(err)) throw err;
          this.o.logger.error({ err, runbook: plan.id }, 'schedule could not be handled; trying again at the next tick');
          continue;
        }
        if (r === 'busy') report.busy.push(plan.id);
        else if (r.length) report.runs[plan.id] = r;
      }
    }
    if (this.stuck && now.getTime() - this.lastLook >= (this.o.watchdogEveryMs ?? 5000)) {
      this.lastLook = now.getTime();
      report.stuck = await this.stuck.look(now);
    }
    return report;
  }

  /** Whether the schedule may have something to do now (a plain read; the transaction decides). */
  private due(plan: CompiledRunbook, row: ScheduleRow | undefined, now: Date): boolean {
    const s = plan.schedule!;
    if (!row || row.cron !== s.cron || row.timezone !== s.timezone) return true;
    if (!row.paused) {
      const next = cronTimer(s.cron, s.timezone).next(row.cursorAt);
      if ((next && next <= now) || row.queuedFireAt) return true;
    }
    return (s.expectSuccessWithinMs !== undefined || row.alertPacketId !== null) && now.getTime() >= (this.watchAt.get(plan.id) ?? 0);
  }

  /** Handles one schedule in one transaction; the ids of the tasks it made, or `busy`. */
  private async handle(plan: CompiledRunbook, now: Date): Promise<string[] | 'busy'> {
    const s = plan.schedule!;
    const timer = cronTimer(s.cron, s.timezone);
    const result = await this.o.db.transaction(async (tx) => {
      if (!(await tryLockSchedule(tx, plan.id))) return 'busy' as const;
      const events: NewScheduleEvent[] = [];
      const patch: SchedulePatch = {};
      let row = await getScheduleRow(tx, plan.id, { forUpdate: true });
      if (!row) {
        row = await registerSchedule(tx, { runbookId: plan.id, cron: s.cron, timezone: s.timezone, now, actor: SCHEDULER_ACTOR, data: { overlap: s.overlap, missed: s.missed } });
      } else if (row.cron !== s.cron || row.timezone !== s.timezone) {
        // Fires of the new cron count from where the old one was handled; the silence from now.
        events.push({ type: 'schedule.changed', actor: SCHEDULER_ACTOR, data: { from: { cron: row.cron, timezone: row.timezone }, to: { cron: s.cron, timezone: s.timezone } } });
        Object.assign(patch, { cron: s.cron, timezone: s.timezone, watchSince: now });
        row = { ...row, watchSince: now };
      }
      const going = await goingRun(tx, plan.id);
      const decision = decideFires(s, timer, row, going?.id ?? null, now, this.o.graceMs ?? DEFAULT_GRACE_MS);
      const made: string[] = [];
      const startedFor = new Map<number, string>();
      const runOf = (g: GoingRun) => ('taskId' in g ? g.taskId : (startedFor.get(g.fireAt.getTime()) ?? null));
      for (const a of decision.actions) {
        if (a.type === 'missed') {
          events.push({ type: 'fires.missed', actor: SCHEDULER_ACTOR, data: { ...a.note, policy: a.policy, ran: a.ran?.toISOString() ?? null } });
        } else if (a.type === 'fire') {
          const run = await startRun(tx, this.o, { plan, at: a.at, kind: 'cron', now, actor: SCHEDULER_ACTOR, fromQueue: a.queued, note: { lateMs: a.lateMs, missed: a.missed } });
          if (!run) continue;
          made.push(run.task.id);
          startedFor.set(a.at.getTime(), run.task.id);
          const fire = { fireAt: a.at.toISOString(), taskId: run.task.id };
          events.push(
            run.rejection
              ? { type: 'fire.refused', actor: SCHEDULER_ACTOR, data: { ...fire, kind: run.rejection.kind, problems: run.rejection.problems } }
              : { type: 'fire.created', actor: SCHEDULER_ACTOR, data: { ...fire, lateMs: a.lateMs, ...(a.queued ? { waited: true } : {}), ...(a.missed ? { missed: a.missed } : {}) } },
          );
        } else if (a.type === 'skip') {
          if (!(await claimFire(tx, { runbookId: plan.id, fireAt: a.at, kind: 'cron', outcome: 'skipped', now }))) continue;
          events.push({ type: 'fire.skipped', actor: SCHEDULER_ACTOR, data: { fireAt: a.at.toISOString(), running: runOf(a.running), overlap: s.overlap, ...(a.waiting ? { why: 'a fire already waits for the run still going' } : {}) } });
        } else {
          if (!(await claimFire(tx, { runbookId: plan.id, fireAt: a.at, kind: 'cron', outcome: 'queued', now }))) continue;
          events.push({ type: 'fire.queued', actor: SCHEDULER_ACTOR, data: { fireAt: a.at.toISOString(), behind: runOf(a.behind) } });
        }
      }
      const next = decision.next;
      if (next.cursorAt.getTime() !== row.cursorAt.getTime()) patch.cursorAt = next.cursorAt;
      if ((next.queuedFireAt?.getTime() ?? null) !== (row.queuedFireAt?.getTime() ?? null)) patch.queuedFireAt = next.queuedFireAt;
      if (JSON.stringify(next.missedNote) !== JSON.stringify(row.missedNote)) patch.missedNote = next.missedNote;
      if (s.expectSuccessWithinMs !== undefined || row.alertPacketId) {
        const alert = await watchSilence(tx, this.o.emit, { plan, row: { ...row, ...patch } as ScheduleRow, now });
        Object.assign(patch, alert.patch);
        events.push(...alert.events);
        const watchMs = this.o.watchMs ?? 5000;
        const deadline = alert.silence.deadline?.getTime();
        this.watchAt.set(plan.id, Math.min(now.getTime() + watchMs, deadline !== undefined && deadline > now.getTime() ? deadline : Infinity));
      }
      if (events.length || Object.keys(patch).length) await changeSchedule(tx, { runbookId: plan.id, now, patch, events });
      return { made, events };
    });
    if (result === 'busy') return result;
    // One line per event of the schedule's ledger (which is the record): what and which fire, never data.
    for (const e of result.events) {
      const level = e.type === 'fire.refused' || e.type === 'fires.missed' || e.type === 'silent_failure' ? 'warn' : 'info';
      this.o.logger[level]({ runbook: plan.id, event: e.type, fireAt: e.data?.fireAt, taskId: e.data?.taskId, ...(e.type === 'fires.missed' ? { count: e.data?.count } : {}) }, 'schedule event');
    }
    return result.made;
  }
}

/**
 * A worker: claims due tasks, drives up to `concurrency` of them at once, renews their leases
 * while it works, and wakes on new work (LISTEN/NOTIFY) instead of polling where it can.
 *
 * Stopping is graceful: the worker claims nothing new, each task records the attempt in flight
 * and is handed back (`queued`) before the next one would start, so nothing is half-recorded.
 *
 * The database going away is waited out, never a reason to exit: claims back off with jitter,
 * drivers retry their writes, and a lease that could not be renewed for `leaseMs` minus the
 * margin (a quarter of the lease) aborts the action in flight, since another worker may take the
 * task over once the lease lapses. The action's outcome (aborted) is then recorded if the claim
 * still holds, or the next claimer finds the attempt in doubt.
 */
import type { Executor } from '../agents/index.js';
import { isRunwardenError } from '../errors.js';
import { faultPoint, isInjectedFault } from '../fault-points.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';
import type { RunbookSet } from '../runbook/plan.js';
import type { CheckpointHooks } from '../store/checkpoints.js';
import { claimTasks, idleStatus, leaseOf, renewLeases, type Lease } from '../store/claim.js';
import { nextDueAt } from '../store/due.js';
import { dueOf } from '../store/wake-channel.js';
import type { Db } from '../store/db.js';
import { isDatabaseUnavailable, reconnectDelay } from '../store/outage.js';
import type { TaskRow } from '../store/tasks.js';
import { systemClock, type Clock } from './clock.js';
import { driveTask, escalateInternal } from './driver.js';
import { WAKE_CHANNEL } from './wake.js';
import { tell, type WorkerObserver } from './observer.js';

export { WAKE_CHANNEL };

export interface WorkerOptions {
  db: Db;
  runbooks: RunbookSet;
  executor: Executor;
  logger: Logger;
  /** Default: `wrk_<random>`. */
  workerId?: string;
  /** How long a claim holds without renewal. Default 30s; renewed every third of it. */
  leaseMs?: number;
  /** Tasks driven at once. Default 4. */
  concurrency?: number;
  /** Longest wait between looks for due work while the listener is down (or unavailable). Default 1s. */
  pollMs?: number;
  /**
   * Longest wait between looks while the listener is up: new work wakes the worker (NOTIFY),
   * timed work (retries, timeouts, deadlines, lapsed leases) is looked for when it falls due, so
   * this only bounds how late work nobody announced is found (a retry another worker scheduled
   * and then died). Default: `pollMs`, for now: with a 30s wait, a scheduled run under a fake
   * clock on the embedded database went unworked more often (test/scheduler/service.test.ts,
   * which also fails now and then on main), and why is not traced yet. Set it (30s, say) to
   * stop polling the claim while listening.
   */
  listeningPollMs?: number;
  clock?: Clock;
  env?: Record<string, string>;
  secrets?: Record<string, string>;
  mask?: <T>(value: T) => T;
  random?: () => number;
  hooks?: CheckpointHooks;
  /** Model calls one task may make in all (`RUNWARDEN_LLM_MAX_CALLS`). Default 10. */
  agentCallCap?: number;
  /**
   * Housekeeping (outbox delivery): runs between idle looks, before `runUntilIdle` returns, and
   * in the background at most every `housekeepingMs` while the worker is busy, so a worker that
   * never goes idle still delivers its packets.
   */
  onIdle?: () => Promise<void>;
  /** How often a busy worker runs `onIdle` in the background. Default 1s. */
  housekeepingMs?: number;
  /** Called after each task leaves the worker's hands (progress views). */
  onTaskReleased?: (task: TaskRow) => void;
  /** Told of checkpoints, claims and lease renewals (metrics). Default: nobody. */
  observer?: WorkerObserver;
  /**
   * The roles this worker serves (`work --roles`): it claims only tasks whose next work is one of
   * them, and hands a task on when the next work is another role's. Default: every role.
   */
  roles?: readonly WorkRole[];
}

export interface WorkerStats {
  claimed: number;
  released: number;
  errors: number;
}

/** The share of the lease kept in reserve: an action still running this close to expiry without a renewal is aborted. */
export const LEASE_MARGIN = 0.25;

/** One task being driven: its claim and what its lease watchdog knows. */
interface Active {
  promise: Promise<void>;
  lease: Lease;
  /** The lease's expiry as last written (ms since the epoch, the worker's clock). */
  expiresAt: number;
  /** Aborts the action in flight; replaced once a lease scare has passed. */
  action: AbortController;
  /** Aborted when the lease is lost: cuts poll waits short. */
  gone: AbortController;
  /** `gone` or the worker stopping. */
  wake: AbortSignal;
  lost: boolean;
  /** The driver has returned: no more renewals. */
  done: boolean;
  cancelled: boolean;
  /** Set while the lease is past its margin with no renewal; resolved by the next renewal. */
  scare: { waiters: Array<(ok: boolean) => void> } | null;
  timers: { watchdog?: NodeJS.Timeout };
}

export class Worker {
  readonly workerId: string;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly listeningPollMs: number;
  /** The listener is up: no claim polling, wakes come by NOTIFY. */
  private listening = false;
  /** A wake came while nobody waited (a claim was in flight): the next wait returns at once. */
  private wakePending = false;
  /** When timed work is next due, as last learnt (ms since the epoch, the worker's clock). */
  private dueAt = Infinity;
  /** When the current wait ends by itself (Infinity while not waiting). */
  private waitUntil = Infinity;
  /** The renewal tick: one statement renews every lease this worker holds. */
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;
  private readonly active = new Map<string, Active>();
  private stopping = false;
  private halted = false;
  private readonly stopCtl = new AbortController();
  private wakeResolve: (() => void) | null = null;
  private readonly stats: WorkerStats = { claimed: 0, released: 0, errors: 0 };
  private housekeeping: Promise<void> | null = null;
  private lastHousekeeping = 0;

  constructor(private readonly opts: WorkerOptions) {
    this.workerId = opts.workerId ?? newId('wrk');
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.pollMs = opts.pollMs ?? 1000;
    this.listeningPollMs = opts.listeningPollMs ?? this.pollMs;
    this.clock = opts.clock ?? systemClock;
  }

  /** Works until no task is queued, running, retry_scheduled or compensating. */
  async runUntilIdle(): Promise<WorkerStats> {
    await this.loop(true);
    return { ...this.stats };
  }

  /** Works until `stop()`. */
  async run(): Promise<WorkerStats> {
    await this.loop(false);
    return { ...this.stats };
  }

  /** Graceful stop: claim nothing new, let each task record its attempt in flight and hand it back. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopCtl.abort();
    this.wake();
    await Promise.allSettled([...this.active.values()].map((a) => a.promise));
  }

  /**
   * Hard stop: abort the actions in flight too (their attempts are recorded as aborted), and stop
   * waiting for a database that is away (what could not be written is left to the leases).
   */
  abortAll(): void {
    this.stopping = true;
    this.halted = true;
    this.stopCtl.abort();
    for (const a of this.active.values()) {
      a.action.abort(new Error('worker stopped'));
      this.endScare(a, false);
    }
    this.wake();
  }

  /**
   * Wakes the loop. With nobody waiting (the loop is inside its claim), the wake is kept for the
   * next wait: the claim in flight may have run on a snapshot taken before the new task
   * committed, so dropping the wake would leave that task for a whole poll interval.
   */
  private wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = null;
    if (r) r();
    else this.wakePending = true;
  }

  /** Learns that timed work falls due at `at`. */
  private dueBy(at: Date | null): void {
    if (at) this.dueAt = Math.min(this.dueAt, at.getTime());
  }

  /** How long to wait for a wake: the poll interval while the listener is down, else until timed work is due. */
  private waitMs(): number {
    if (!this.listening) return this.pollMs;
    const until = this.dueAt - this.clock.now().getTime();
    if (until > 0) return Math.min(this.listeningPollMs, until);
    // Due already and not claimed (held, or taken by another worker): look again after a poll
    // interval, never in a tight loop.
    this.dueAt = Infinity;
    return Math.min(this.pollMs, this.listeningPollMs);
  }

  private waitForWake(ms: number): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    this.waitUntil = this.clock.now().getTime() + Math.max(0, ms);
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waitUntil = Infinity;
        clearTimeout(timer);
        if (this.wakeResolve === done) this.wakeResolve = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      const prev = this.wakeResolve;
      this.wakeResolve = () => {
        prev?.();
        done();
      };
    });
  }

  private async loop(untilIdle: boolean): Promise<void> {
    const log = this.opts.logger.child({ workerId: this.workerId });
    let unlisten: (() => Promise<void>) | null = null;
    let nextListenTry = 0;
    const listen = async () => {
      if (unlisten || Date.now() < nextListenTry) return;
      try {
        unlisten = await this.opts.db.listen(
          WAKE_CHANNEL,
          (payload) => {
            const due = dueOf(payload);
            if (due === undefined) return this.wake();
            // Timed work (another claim's lease): wake only if it is due before this wait ends.
            this.dueBy(new Date(due));
            if (this.wakeResolve && due < this.waitUntil) this.wake();
          },
          (up) => {
            this.listening = up;
            // Back after a gap: what was announced meanwhile was missed, so look once now.
            if (up) this.wake();
          },
        );
        this.listening = true;
      } catch (err) {
        // Polling covers for it; tried again now and then (the database may have been away).
        nextListenTry = Date.now() + 5_000;
        log.debug({ err }, 'listen unavailable; polling');
      }
    };
    await listen();
    log.info({ concurrency: this.concurrency, leaseMs: this.leaseMs }, 'worker started');
    let outage = 0;
    try {
      while (!this.stopping) {
        try {
          await listen();
          const free = this.concurrency - this.active.size;
          let claimed = 0;
          if (free > 0) {
            // Wakes from here on are for work this claim may not see: they are kept (wake()).
            this.wakePending = false;
            faultPoint('claim.before');
            const claimStarted = performance.now();
            const tasks = await claimTasks(this.opts.db, {
              workerId: this.workerId,
              now: this.clock.now(),
              leaseMs: this.leaseMs,
              limit: free,
              exclude: [...this.active.keys()],
              ...(this.opts.roles ? { roles: this.opts.roles } : {}),
            });
            faultPoint('claim.after');
            tell(this.opts.observer, (o) => o.claimed?.(tasks.length, (performance.now() - claimStarted) / 1000));
            claimed = tasks.length;
            for (const c of tasks) this.start(c.task, c.from, log);
          }
          outage = 0;
          if (claimed > 0 && this.active.size < this.concurrency) continue;
          if (this.active.size > 0) {
            this.housekeepInBackground(log);
            await this.waitForWake(this.waitMs());
            continue;
          }
          // Housekeeping never holds up claiming (it may wait on a sink or a model); the last run
          // before --until-idle returns is awaited in `finally`.
          this.housekeepInBackground(log);
          const idle = await idleStatus(this.opts.db, this.opts.roles);
          if (untilIdle && idle.busy === 0 && !idle.nextDueAt) break;
          if (this.listening) {
            // Idle and listening: sleep until timed work is due, found afresh (others' too).
            this.dueAt = Infinity;
            this.dueBy(await nextDueAt(this.opts.db));
            this.dueBy(idle.nextDueAt);
            await this.waitForWake(this.waitMs());
            continue;
          }
          const untilDue = idle.nextDueAt ? idle.nextDueAt.getTime() - this.clock.now().getTime() : this.pollMs;
          await this.waitForWake(Math.min(Math.max(untilDue, 0), this.pollMs));
        } catch (err) {
          // The database is away: the database handle said so once; wait and look again.
          if (!isDatabaseUnavailable(err)) throw err;
          await this.waitForWake(reconnectDelay(outage++, this.opts.random));
        }
      }
    } finally {
      await Promise.allSettled([...this.active.values()].map((a) => a.promise));
      await this.housekeeping;
      if (this.opts.onIdle) await this.opts.onIdle().catch((err) => log.warn({ err }, 'idle hook failed'));
      if (unlisten) await (unlisten as () => Promise<void>)().catch(() => undefined);
      this.listening = false;
      log.info({ ...this.stats }, 'worker stopped');
    }
  }

  /** Runs `onIdle` without holding up claims, one run at a time, at most every housekeepingMs. */
  private housekeepInBackground(log: Logger): void {
    const every = this.opts.housekeepingMs ?? 1000;
    if (!this.opts.onIdle || this.housekeeping || Date.now() - this.lastHousekeeping < every) return;
    this.lastHousekeeping = Date.now();
    this.housekeeping = this.opts
      .onIdle()
      .catch((err: unknown) => log.warn({ err }, 'housekeeping failed'))
      .finally(() => {
        this.housekeeping = null;
      });
  }

  // -------------------------------------------------------------------------------------------
  // The lease of one task: renewals, the watchdog, what the driver asks of it

  private renewEvery(): number {
    return Math.max(50, Math.floor(this.leaseMs / 3));
  }

  /** Schedules the renewal tick unless one is due already. */
  private scheduleRenewal(ms: number, log: Logger): void {
    if (this.renewTimer) return;
    this.renewTimer = setTimeout(() => {
      this.renewTimer = undefined;
      this.renewAll(log);
    }, ms);
  }

  /**
   * Renews every lease the worker holds in one statement, then schedules the next tick: every
   * third of the lease, sooner while failing. A task missing from the answer lost its lease.
   */
  private renewAll(log: Logger): void {
    const held = [...this.active.entries()].filter(([, a]) => !a.lost && !a.done);
    if (!held.length) return;
    renewLeases(this.opts.db, { workerId: this.workerId, leases: held.map(([taskId, a]) => ({ taskId, epoch: a.lease.epoch })), now: this.clock.now(), leaseMs: this.leaseMs })
      .then((r) => {
        for (const [taskId, a] of held) {
          if (a.done) continue;
          const row = r.held.get(taskId);
          tell(this.opts.observer, (o) => o.leaseRenewal?.(row ? 'renewed' : 'lost'));
          if (!row) {
            a.lost = true;
            a.action.abort(new Error('lease lost'));
            a.gone.abort();
            this.endScare(a, false);
            continue;
          }
          a.expiresAt = r.expiresAt.getTime();
          this.armWatchdog(a, taskId, log);
          this.endScare(a, true);
          if (row.cancelRequested && !a.cancelled) {
            a.cancelled = true;
            a.action.abort(new Error('cancelled by an operator'));
          }
        }
        this.scheduleRenewal(this.renewEvery(), log);
      })
      .catch((err: unknown) => {
        tell(this.opts.observer, (o) => { for (let k = 0; k < held.length; k++) o.leaseRenewal?.('failed'); });
        if (!isDatabaseUnavailable(err)) log.warn({ err, tasks: held.length }, 'lease renewal failed');
        // Tried again sooner than usual: the margin is running out.
        this.scheduleRenewal(Math.max(25, Math.floor(this.renewEvery() / 4)), log);
      });
  }

  /** At `expiresAt` minus the margin, unless a renewal came first: abort the action in flight. */
  private armWatchdog(a: Active, taskId: string, log: Logger): void {
    clearTimeout(a.timers.watchdog);
    const at = a.expiresAt - this.leaseMs * LEASE_MARGIN;
    a.timers.watchdog = setTimeout(() => {
      if (a.lost || a.done) return;
      // Timers may fire a little early: look again rather than give up the watch.
      if (this.clock.now().getTime() < at) return this.armWatchdog(a, taskId, log);
      if (!a.scare) {
        a.scare = { waiters: [] };
        log.warn({ taskId, leaseExpiresAt: new Date(a.expiresAt).toISOString() }, 'lease not renewed in time; aborting the action in flight');
      }
      a.action.abort(new Error('lease about to expire: no renewal succeeded'));
    }, Math.max(0, at - this.clock.now().getTime()));
  }

  /** A renewal succeeded (ok) or the lease is gone: waiting actions may go on, or must not. */
  private endScare(a: Active, ok: boolean): void {
    if (!a.scare) return;
    const waiters = a.scare.waiters;
    a.scare = null;
    // A fresh signal for the next action: the aborted one stays aborted for the attempt it cut.
    if (ok && a.action.signal.aborted && !a.cancelled && !this.halted) a.action = new AbortController();
    for (const w of waiters) w(ok);
  }

  private leaseReady(a: Active): Promise<boolean> {
    if (a.lost || this.halted) return Promise.resolve(false);
    if (this.clock.now().getTime() < a.expiresAt - this.leaseMs * LEASE_MARGIN) return Promise.resolve(true);
    // Past the margin: wait for the next renewal, however long the outage lasts.
    a.scare ??= { waiters: [] };
    return new Promise((resolve) => a.scare!.waiters.push(resolve));
  }

  // -------------------------------------------------------------------------------------------

  private start(task: TaskRow, from: string, log: Logger): void {
    this.stats.claimed += 1;
    const gone = new AbortController();
    const a: Active = {
      promise: Promise.resolve(),
      lease: leaseOf(task),
      expiresAt: task.leaseExpiresAt?.getTime() ?? this.clock.now().getTime() + this.leaseMs,
      action: new AbortController(),
      gone,
      wake: AbortSignal.any([gone.signal, this.stopCtl.signal]),
      lost: false,
      done: false,
      cancelled: false,
      scare: null,
      timers: {},
    };
    if (from !== task.state) log.info({ taskId: task.id, runbook: task.runbookId, step: task.currentStep, from, state: task.state, reason: `claimed by ${this.workerId}` }, 'task state changed');
    this.armWatchdog(a, task.id, log);
    this.scheduleRenewal(this.renewEvery(), log);
    a.promise = driveTask(
      {
        db: this.opts.db,
        runbooks: this.opts.runbooks,
        executor: this.opts.executor,
        clock: this.clock,
        logger: this.opts.logger,
        workerId: this.workerId,
        env: this.opts.env ?? {},
        secrets: this.opts.secrets ?? {},
        ...(this.opts.mask ? { mask: this.opts.mask } : {}),
        ...(this.opts.random ? { random: this.opts.random } : {}),
        ...(this.opts.hooks ? { hooks: this.opts.hooks } : {}),
        ...(this.opts.agentCallCap !== undefined ? { agentCallCap: this.opts.agentCallCap } : {}),
        ...(this.opts.observer ? { observer: this.opts.observer } : {}),
        ...(this.opts.roles ? { roles: this.opts.roles } : {}),
      },
      task,
      {
        actionSignal: () => a.action.signal,
        wake: a.wake,
        stopping: () => this.stopping,
        halted: () => this.halted,
        lost: () => a.lost,
        cancelled: () => a.cancelled,
        leaseReady: () => this.leaseReady(a),
      },
    )
      .then((t) => {
        // A task let go to wait (a retry, a callback's timeout) is due again at its next attempt.
        this.dueBy(t.nextAttemptAt);
        this.stats.released += 1;
        this.opts.onTaskReleased?.(t);
      })
      .catch((err) => this.driverFailed(err, task, a, log))
      .finally(() => {
        a.done = true;
        clearTimeout(a.timers.watchdog);
        this.endScare(a, false);
        this.active.delete(task.id);
        if (this.active.size === 0) {
          // Nothing left to renew: the tick must not keep the process alive.
          clearTimeout(this.renewTimer);
          this.renewTimer = undefined;
        }
        this.wake();
      });
    this.active.set(task.id, a);
  }

  /** What a driver's failure means: lost lease, outage, injected crash, or a bug to escalate. */
  private async driverFailed(err: unknown, task: TaskRow, a: Active, log: Logger): Promise<void> {
    if (isRunwardenError(err) && err.code === 'LEASE_LOST') {
      log.warn({ taskId: task.id }, 'lease lost; another worker has the task');
      return;
    }
    if (isDatabaseUnavailable(err)) {
      // Only after a hard stop: the database was away, so the task waits for its lease to lapse.
      log.warn({ taskId: task.id }, 'database unavailable while stopping; the task is taken over when its lease expires');
      return;
    }
    if (isInjectedFault(err)) {
      // A crash of this driver, as a test asked: nothing more is written, as if the process died.
      log.warn({ taskId: task.id, point: err.point }, 'injected fault; the task is left to its lease');
      return;
    }
    this.stats.errors += 1;
    log.error({ err, taskId: task.id }, 'task driver failed; escalating the task');
    // A bug must not loop: the task stops with the error for a person to look at.
    await escalateInternal(this.opts, a.lease, task.id, err, this.clock.now()).catch((e2: unknown) => {
      if (!isDatabaseUnavailable(e2)) log.error({ err: e2, taskId: task.id }, 'could not escalate the task; its lease will expire');
    });
  }
}

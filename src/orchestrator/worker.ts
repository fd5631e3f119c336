/**
 * A worker: claims due tasks, drives up to `concurrency` of them at once, renews their leases
 * while it works, and wakes on new work (LISTEN/NOTIFY) instead of polling where it can.
 *
 * Stopping is graceful: the worker claims nothing new, each task records the attempt in flight
 * and is handed back (`queued`) before the next one would start, so nothing is half-recorded.
 */
import type { Executor } from '../agents/index.js';
import { isRunwardenError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import type { RunbookSet } from '../runbook/plan.js';
import type { CheckpointHooks } from '../store/checkpoints.js';
import { claimTasks, idleStatus, renewLease } from '../store/claim.js';
import type { Db } from '../store/db.js';
import type { TaskRow } from '../store/tasks.js';
import { systemClock, type Clock } from './clock.js';
import { driveTask, escalateInternal } from './driver.js';
import { WAKE_CHANNEL } from './wake.js';

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
  /** Longest wait between looks for due work when nothing wakes the worker. Default 1s. */
  pollMs?: number;
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
}

export interface WorkerStats {
  claimed: number;
  released: number;
  errors: number;
}

interface Active {
  promise: Promise<void>;
  abort: AbortController;
}

export class Worker {
  readonly workerId: string;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly clock: Clock;
  private readonly active = new Map<string, Active>();
  private stopping = false;
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

  /** Hard stop: abort the actions in flight too (their attempts are recorded as aborted). */
  abortAll(): void {
    this.stopping = true;
    this.stopCtl.abort();
    for (const a of this.active.values()) a.abort.abort(new Error('worker stopped'));
    this.wake();
  }

  private wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = null;
    r?.();
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
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
    try {
      unlisten = await this.opts.db.listen(WAKE_CHANNEL, () => this.wake());
    } catch (err) {
      log.debug({ err }, 'listen unavailable; polling');
    }
    log.info({ concurrency: this.concurrency, leaseMs: this.leaseMs }, 'worker started');
    try {
      while (!this.stopping) {
        const free = this.concurrency - this.active.size;
        let claimed = 0;
        if (free > 0) {
          const tasks = await claimTasks(this.opts.db, { workerId: this.workerId, now: this.clock.now(), leaseMs: this.leaseMs, limit: free });
          claimed = tasks.length;
          for (const c of tasks) this.start(c.task, log);
        }
        if (claimed > 0 && this.active.size < this.concurrency) continue;
        if (this.active.size > 0) {
          this.housekeepInBackground(log);
          await this.waitForWake(this.pollMs);
          continue;
        }
        // Housekeeping never holds up claiming (it may wait on a sink or a model); the last run
        // before --until-idle returns is awaited in `finally`.
        this.housekeepInBackground(log);
        const idle = await idleStatus(this.opts.db);
        if (untilIdle && idle.busy === 0 && !idle.nextDueAt) break;
        const untilDue = idle.nextDueAt ? idle.nextDueAt.getTime() - this.clock.now().getTime() : this.pollMs;
        await this.waitForWake(Math.min(Math.max(untilDue, 0), this.pollMs));
      }
    } finally {
      await Promise.allSettled([...this.active.values()].map((a) => a.promise));
      await this.housekeeping;
      if (this.opts.onIdle) await this.opts.onIdle().catch((err) => log.warn({ err }, 'idle hook failed'));
      if (unlisten) await unlisten().catch(() => undefined);
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

  private start(task: TaskRow, log: Logger): void {
    this.stats.claimed += 1;
    const abort = new AbortController();
    const wake = AbortSignal.any([abort.signal, this.stopCtl.signal]);
    let lost = false;
    let cancelled = false;
    const renew = setInterval(() => {
      renewLease(this.opts.db, { taskId: task.id, workerId: this.workerId, now: this.clock.now(), leaseMs: this.leaseMs })
        .then((r) => {
          if (!r) {
            lost = true;
            abort.abort(new Error('lease lost'));
          } else if (r.cancelRequested && !cancelled) {
            cancelled = true;
            abort.abort(new Error('cancelled by an operator'));
          }
        })
        .catch((err) => log.warn({ err, taskId: task.id }, 'lease renewal failed'));
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    const promise = driveTask(
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
      },
      task,
      {
        signal: abort.signal,
        wake,
        stopping: () => this.stopping,
        lost: () => lost,
        cancelled: () => cancelled,
      },
    )
      .then((t) => {
        this.stats.released += 1;
        this.opts.onTaskReleased?.(t);
      })
      .catch((err) => {
        if (isRunwardenError(err) && err.code === 'LEASE_LOST') {
          log.warn({ taskId: task.id }, 'lease lost; another worker has the task');
        } else {
          this.stats.errors += 1;
          log.error({ err, taskId: task.id }, 'task driver failed; escalating the task');
          // A bug must not loop: the task stops with the error for a person to look at.
          return escalateInternal(this.opts, this.workerId, task.id, err, this.clock.now()).catch((e2) =>
            log.error({ err: e2, taskId: task.id }, 'could not escalate the task; its lease will expire'),
          );
        }
      })
      .finally(() => {
        clearInterval(renew);
        this.active.delete(task.id);
        this.wake();
      });
    this.active.set(task.id, { promise, abort });
  }
}

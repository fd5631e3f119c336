/**
 * The composition root: how a long-lived runwarden process is put together. `runwarden work`,
 * the demo and `runwarden serve` all build their worker here, so each runs the same pieces wired
 * the same way: the worker, the escalation hooks (packets written in the transactions that stop
 * tasks, resolved when they finish), the outbox deliverer run as the worker's housekeeping, and
 * the scheduler with its stuck-task watchdog beside the worker. The HTTP layer takes `onAction`
 * for the operator actions it serves, so a packet is resolved or refreshed whichever way the
 * action came in.
 *
 * The scheduler runs with `run()` only: `runUntilIdle()` drains what is there (a scheduler would
 * keep making work), so `work --until-idle` makes no scheduled runs.
 */
import { createExecutor, type Advisor, type Executor } from './agents/index.js';
import type { DeploymentConfig } from './config/index.js';
import { escalationHooks, type EscalationHooks } from './escalation/hooks.js';
import type { EmitContext } from './escalation/emit.js';
import { createDeliverer, type DeliveryStats } from './escalation/outbox-delivery.js';
import { AckWatch } from './escalation/ack-watch.js';
import type { Logger } from './log.js';
import type { Clock } from './orchestrator/clock.js';
import { Worker, type WorkerStats } from './orchestrator/worker.js';
import type { RunbookSet } from './runbook/plan.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import type { Masker } from './secrets/mask.js';
import type { Db } from './store/db.js';
import { isDatabaseUnavailable } from './store/outage.js';
import type { TaskRow } from './store/tasks.js';
import type { WorkRole } from './lifecycle/vocabulary.js';

/** What the service is built from: an open runtime (see runtime.ts) or the demo's own. */
export interface ServiceRuntime {
  db: Db;
  config: DeploymentConfig;
  runbooks: RunbookSet;
  masker: Masker;
  logger: Logger;
}

export interface ServiceOptions {
  /** Default: the built-in actions, no model (decide steps take their fallback). */
  executor?: Executor;
  /** Model calls one task may make in all (`RUNWARDEN_LLM_MAX_CALLS`). Default: the decision's own. */
  agentCallCap?: number;
  /** Rewords packets' `why` before their first send. Default: none. */
  advisor?: Advisor | null;
  /** Base URL of `runwarden serve` for the links in packets. Default: none. */
  publicUrl?: string;
  workerId?: string;
  leaseMs?: number;
  concurrency?: number;
  pollMs?: number;
  housekeepingMs?: number;
  clock?: Clock;
  /** Called after each task leaves the worker (progress views). */
  onTaskReleased?: (task: TaskRow) => void;
  /**
   * The roles this process serves (`work --roles`). The worker claims only their work; the outbox
   * deliverer and the acknowledgement watch run only with `escalation`. Default: every role.
   */
  roles?: readonly WorkRole[];
  /** How often the acknowledgement watch looks. Default 5s. */
  ackTickMs?: number;
  /** The scheduler's timing (default: a tick a second), or false for none (no schedules, no watchdog). */
  scheduler?: false | Pick<SchedulerOptions, 'tickMs' | 'graceMs' | 'watchMs' | 'watchdog'>;
}

export interface Service {
  worker: Worker;
  /** Null when built with `scheduler: false`. */
  scheduler: Scheduler | null;
  /** Re-escalates what nobody acknowledged (`escalation.ackWithin`); null without the escalation role or with `scheduler: false`. */
  ackWatch: AckWatch | null;
  escalation: EscalationHooks;
  /** Delivers what is due now (also run by the worker between looks for work). */
  deliver(): Promise<DeliveryStats>;
  /** Works, and runs the scheduler, until `stop()`. */
  run(): Promise<WorkerStats>;
  /** Works until nothing is left to do, including a last delivery. */
  runUntilIdle(): Promise<WorkerStats>;
  /** Graceful stop: attempts in flight are recorded, tasks handed back. */
  stop(): Promise<void>;
  /** Hard stop: attempts in flight are aborted. */
  abort(): void;
}

/** Builds the worker with its escalation hooks and outbox deliverer, from one runtime. */
export function createService(rt: ServiceRuntime, o: ServiceOptions = {}): Service {
  const escalation = escalationHooks(rt, o.publicUrl ? { publicUrl: o.publicUrl } : {});
  const emit: EmitContext = { config: rt.config, masker: rt.masker, ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) };
  const escalates = !o.roles || o.roles.includes('escalation');
  const delivery = createDeliverer({ db: rt.db, config: rt.config, masker: rt.masker, logger: rt.logger, advisor: o.advisor ?? null, ...(o.clock ? { now: () => o.clock!.now() } : {}) });
  const worker = new Worker({
    db: rt.db,
    runbooks: rt.runbooks,
    executor: o.executor ?? createExecutor(),
    logger: rt.logger,
    // The config's own object, not a copy: it carries which names are listed, for the message
    // of an expression that reads one that is not.
    env: rt.config.env,
    secrets: { ...rt.config.secrets },
    mask: (v) => rt.masker.maskValue(v),
    hooks: escalation.hooks,
    // A delivery problem must not stop the worker: the rows wait in the outbox. The database
    // being away is said once by the database handle, not once per pass here.
    // Deliveries are the escalation role's work: a worker without it leaves the outbox to one with it.
    onIdle: () =>
      (escalates ? delivery.deliver() : Promise.resolve()).then(
        () => undefined,
        (err: unknown) => {
          if (!isDatabaseUnavailable(err)) rt.logger.warn({ err }, 'outbox delivery failed; the packets stay queued');
        },
      ),
    ...(o.agentCallCap !== undefined ? { agentCallCap: o.agentCallCap } : {}),
    ...(o.workerId ? { workerId: o.workerId } : {}),
    ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
    ...(o.housekeepingMs !== undefined ? { housekeepingMs: o.housekeepingMs } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.onTaskReleased ? { onTaskReleased: o.onTaskReleased } : {}),
    ...(o.roles ? { roles: o.roles } : {}),
  });
  const scheduler =
    o.scheduler === false
      ? null
      : new Scheduler({
          db: rt.db,
          runbooks: rt.runbooks,
          env: { ...rt.config.env },
          secrets: { ...rt.config.secrets },
          emit,
          logger: rt.logger,
          ...(o.clock ? { clock: o.clock } : {}),
          ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
          ...(o.scheduler ?? {}),
        });
  const ackWatch =
    o.scheduler === false || !escalates
      ? null
      : new AckWatch({ db: rt.db, runbooks: rt.runbooks, emit, logger: rt.logger, ...(o.clock ? { clock: o.clock } : {}), ...(o.ackTickMs !== undefined ? { tickMs: o.ackTickMs } : {}) });
  return {
    worker,
    scheduler,
    ackWatch,
    escalation,
    deliver: () => delivery.deliver(),
    async run() {
      const ticking = scheduler?.run();
      const watching = ackWatch?.run();
      try {
        return await worker.run();
      } finally {
        await Promise.all([scheduler?.stop(), ackWatch?.stop()]);
        await Promise.all([ticking, watching]);
      }
    },
    runUntilIdle: () => worker.runUntilIdle(),
    async stop() {
      await Promise.all([worker.stop(), scheduler?.stop(), ackWatch?.stop()]);
    },
    abort: () => {
      worker.abortAll();
      void scheduler?.stop();
      void ackWatch?.stop();
    },
  };
}

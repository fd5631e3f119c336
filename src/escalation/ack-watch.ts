/**
 * Acknowledgement deadlines (`escalation.ackWithin`, `escalation.then`): an escalated task no
 * operator acted on within the window is escalated again to the next route of `then`, once per
 * window, each time a ledger event (`escalation.reescalated`) and a packet delivered through the
 * outbox to that route. Any operator action acknowledges the escalation; after the last route the
 * watch stops asking. Windows count from when the task entered `escalated`: the n-th
 * re-escalation is due `n × ackWithin` after it.
 *
 * Runs beside the scheduler in the composition root (service.ts), in processes that serve the
 * escalation role. Several watchers may run: each re-escalation is applied under the task's
 * ledger version (`expect.eventSeq`), so one of them writes it and the others find it done.
 */
import { isRunwardenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock } from '../orchestrator/clock.js';
import { systemClock } from '../orchestrator/clock.js';
import { runbookOf } from '../orchestrator/runbook-version.js';
import type { RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { openEscalations, type OpenEscalation } from '../store/escalations.js';
import { isDatabaseUnavailable } from '../store/outage.js';
import { applyChange } from '../store/tasks.js';
import { emitPacket, type EmitContext } from './emit.js';

export interface AckWatchOptions {
  db: Db;
  runbooks: RunbookSet;
  emit: EmitContext;
  logger: Logger;
  /** Default: the system clock. */
  clock?: Clock;
  /** How often it looks. Default 5s. */
  tickMs?: number;
}

/** One re-escalation made by a tick. */
export interface Reescalation {
  taskId: string;
  route: string;
  round: number;
}

export class AckWatch {
  private stopped = false;
  private readonly wake = new AbortController();
  private readonly clock: Clock;

  constructor(private readonly o: AckWatchOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** Runbooks that ask for acknowledgement, by id (the loaded versions name which to look at). */
  private watched(): string[] {
    return this.o.runbooks.runbooks.filter((r) => r.escalation.ackWithinMs !== undefined && r.escalation.then.length > 0).map((r) => r.id);
  }

  /** Re-escalates every task whose window has passed; returns what it did. */
  async tick(): Promise<Reescalation[]> {
    const now = this.clock.now();
    const done: Reescalation[] = [];
    for (const open of await openEscalations(this.o.db, this.watched())) {
      const r = await this.consider(open, now);
      if (r) done.push(r);
    }
    return done;
  }

  private async consider(open: OpenEscalation, now: Date): Promise<Reescalation | undefined> {
    if (open.acknowledged) return undefined;
    // The version the task runs on says how long and to whom, not the file as it is now.
    const plan = await runbookOf(this.o.db, this.o.runbooks, open.task);
    const within = plan?.escalation.ackWithinMs;
    const routes = plan?.escalation.then ?? [];
    if (!plan || within === undefined || open.rounds >= routes.length) return undefined;
    const dueAt = open.escalatedAt.getTime() + (open.rounds + 1) * within;
    if (now.getTime() < dueAt) return undefined;
    const route = routes[open.rounds]!;
    const round = open.rounds + 1;
    try {
      await this.o.db.transaction(async (tx) => {
        const task = await applyChange(tx, {
          taskId: open.task.id,
          now,
          // Written once: a second watcher, or an operator who acted meanwhile, makes this a no-op.
          expect: { states: ['escalated'], eventSeq: open.task.eventSeq },
          events: [
            {
              type: 'escalation.reescalated',
              step: open.task.currentStep,
              actor: 'escalation',
              data: { route, round, of: routes.length, ackWithinMs: within, escalatedAt: open.escalatedAt.toISOString(), role: 'escalation' },
            },
          ],
        });
        await emitPacket(tx, this.o.emit, { task, plan, now, ...(task.escalation ? { reason: task.escalation } : {}), route });
      });
    } catch (err) {
      if (isRunwardenError(err) && (err.code === 'TASK_CHANGED' || err.code === 'ILLEGAL_TRANSITION')) return undefined;
      throw err;
    }
    this.o.logger.info({ taskId: open.task.id, route, round }, 'escalation not acknowledged; escalated to the next route');
    return { taskId: open.task.id, route, round };
  }

  /** Looks every `tickMs` until `stop()`. The database being away is waited out. */
  async run(): Promise<void> {
    const every = this.o.tickMs ?? 5000;
    while (!this.stopped) {
      try {
        await this.tick();
      } catch (err) {
        if (!isDatabaseUnavailable(err)) this.o.logger.warn({ err }, 'acknowledgement watch failed; trying again');
      }
      await this.clock.sleep(every, this.wake.signal);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
  }
}

/**
 * The stuck-task watchdog: a task left in `running` or `compensating` with no change for longer
 * than its step may take plus a lease (its worker died and nobody took it over, or it hangs in an
 * action that ignores its time limit while still renewing the lease) is escalated, so a person
 * hears of it instead of nobody.
 *
 * Which states can be stuck: only those a worker drives under a lease. `queued`, a due
 * `retry_scheduled` and a timed-out `waiting_callback` are held by nobody: the next worker that
 * looks claims them and nothing of theirs is half done, so escalating them would only stop work
 * that goes on by itself (and the transition table does not let them escalate). The states that
 * wait for people (`awaiting_approval`, `escalated`, `in_handover`) are not automation's to judge.
 *
 * What escalating means here, through the transition table and `applyChange` like every other
 * change: `running -> escalated` as `ambiguous_state` (the step's last attempt may or may not have
 * taken effect; `resume` treats it as in doubt, so a `once` step probes first), `compensating ->
 * escalated` as `compensation_failed`; the failure class is `timeout` (the step ran past its time
 * limit). The lease is cleared in the same change, so the worker, if it was only hung, finds its
 * claim gone and writes nothing more. The packet goes out in that transaction.
 *
 * Why the watchdog must see a task stuck twice, a lease apart, before it acts: right after a
 * database outage every task looks quiet for as long as the outage lasted, while its worker is
 * about to write the checkpoint it held. Acting on the first look would escalate healthy tasks.
 */
import { DEFAULT_TIMEOUT_MS } from '../agents/executor.js';
import { emitPacket, type EmitContext } from '../escalation/emit.js';
import type { Logger } from '../log.js';
import { formatDuration } from '../runbook/duration.js';
import type { ActionSpec, CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { lockUnchanged, quietTasks } from '../store/stuck.js';
import { applyChange, type EscalationInfo, type TaskRow } from '../store/tasks.js';

/** The ledger actor of the watchdog's escalations. */
export const WATCHDOG_ACTOR = 'watchdog';

/** The longest an action of `spec` may run: its own limit, else its system's (http), else the executor's default. */
function actionLimit(plan: CompiledRunbook, spec: ActionSpec, own: number | undefined): number {
  const system = spec.action === 'http' && spec.with.system ? plan.systems[spec.with.system]?.timeoutMs : undefined;
  return own ?? system ?? DEFAULT_TIMEOUT_MS;
}

/**
 * The longest a healthy worker goes without writing anything while on this step: its longest
 * action, probe, check or undo, a poll's wait between checks, a rollback's wait between tries.
 * Unknown step or runbook: the executor's default limit.
 */
export function quietLimitMs(plan: CompiledRunbook | undefined, stepId: string | null): number {
  const step = plan && stepId !== null ? plan.steps[plan.stepIndex[stepId] ?? -1] : undefined;
  if (!plan || !step) return DEFAULT_TIMEOUT_MS;
  const limits = [actionLimit(plan, step.spec, step.timeoutMs)];
  if (step.probe) limits.push(actionLimit(plan, step.probe.spec, step.probe.timeoutMs));
  for (const check of step.verify) {
    limits.push(actionLimit(plan, check.spec, check.timeoutMs ?? step.timeoutMs));
    if (check.poll) limits.push(check.poll.everyMs);
  }
  if (step.compensate) {
    limits.push(actionLimit(plan, step.compensate.spec, step.compensate.timeoutMs));
    limits.push(step.retry.transient?.maxDelayMs ?? 1000);
  }
  return Math.max(...limits);
}

export interface StuckTaskOptions {
  db: Db;
  runbooks: RunbookSet;
  emit: EmitContext;
  logger: Logger;
  /** The lease workers hold tasks for (the slack past a step's limit, and the second look's delay). */
  leaseMs: number;
}

/** What one look found and did. */
export interface StuckReport {
  /** Tasks quiet past their limit, seen for the first time (or changed since): looked at again later. */
  watching: number;
  escalated: TaskRow[];
}

/** Finds stuck tasks and escalates them; keeps, per task, when it first saw it stuck as it is. */
export class StuckTaskWatch {
  private readonly seen = new Map<string, { updatedAt: number; epoch: number; since: number }>();

  constructor(private readonly o: StuckTaskOptions) {}

  /** One look at `now`. */
  async look(now: Date): Promise<StuckReport> {
    const report: StuckReport = { watching: 0, escalated: [] };
    // Every limit is a lease plus something: nothing quiet for less than a lease can be stuck.
    const quiet = await quietTasks(this.o.db, { before: new Date(now.getTime() - this.o.leaseMs) });
    const still = new Set<string>();
    for (const task of quiet) {
      const plan = task.runbookId ? this.o.runbooks.byId.get(task.runbookId) : undefined;
      const limitMs = quietLimitMs(plan, task.currentStep) + this.o.leaseMs;
      const quietMs = now.getTime() - task.updatedAt.getTime();
      if (quietMs <= limitMs) continue;
      still.add(task.id);
      const prev = this.seen.get(task.id);
      if (!prev || prev.updatedAt !== task.updatedAt.getTime() || prev.epoch !== task.leaseEpoch) {
        this.seen.set(task.id, { updatedAt: task.updatedAt.getTime(), epoch: task.leaseEpoch, since: now.getTime() });
        report.watching += 1;
        continue;
      }
      if (now.getTime() - prev.since < this.o.leaseMs) {
        report.watching += 1;
        continue;
      }
      const done = await this.escalate(task, plan, now, quietMs, limitMs);
      if (done) report.escalated.push(done);
      this.seen.delete(task.id);
    }
    for (const id of this.seen.keys()) if (!still.has(id)) this.seen.delete(id);
    return report;
  }

  private async escalate(seen: TaskRow, plan: CompiledRunbook | undefined, now: Date, quietMs: number, limitMs: number): Promise<TaskRow | undefined> {
    const step = seen.currentStep;
    const holder = seen.leaseOwner ? `worker ${seen.leaseOwner}` : 'no worker';
    const lease = seen.leaseExpiresAt ? (seen.leaseExpiresAt <= now ? `its lease ran out at ${seen.leaseExpiresAt.toISOString()}` : `it still renews its lease`) : 'it holds no lease';
    const where = step ? `at step ${step}` : 'between steps';
    const message =
      `no progress for ${formatDuration(Math.round(quietMs / 1000) * 1000)} ${where} while ${seen.state}, longer than the step may take plus a lease (${formatDuration(limitMs)}): ` +
      `${holder} stopped or hung without handing it back (${lease}), and no worker took it over; whether its last attempt took effect is not known`;
    const info: EscalationInfo = {
      kind: seen.state === 'compensating' ? 'compensation_failed' : 'ambiguous_state',
      failureClass: 'timeout',
      step,
      message,
      at: now.toISOString(),
    };
    const task = await this.o.db.transaction(async (tx) => {
      // Exactly as seen, or not at all: a worker that wrote in between has shown it is alive.
      if (!(await lockUnchanged(tx, seen))) return undefined;
      const t = await applyChange(tx, {
        taskId: seen.id,
        now,
        to: 'escalated',
        expect: { states: [seen.state], leaseEpoch: seen.leaseEpoch },
        patch: { leaseOwner: null, leaseExpiresAt: null, escalation: info },
        events: [
          {
            type: 'escalated',
            step,
            actor: WATCHDOG_ACTOR,
            data: { kind: info.kind, failureClass: info.failureClass, message, stuck: { since: seen.updatedAt.toISOString(), quietMs, limitMs, leaseOwner: seen.leaseOwner, leaseExpiresAt: seen.leaseExpiresAt?.toISOString() ?? null } },
          },
        ],
      });
      await emitPacket(tx, this.o.emit, { task: t, plan, now, reason: info });
      return t;
    });
    if (task) this.o.logger.warn({ taskId: task.id, runbook: task.runbookId, step, from: seen.state, state: task.state, reason: message }, 'task state changed');
    return task;
  }
}

/**
 * Where escalation meets the orchestrator and the operator actions: the hooks that write packets
 * and their outbox rows inside the transactions that stop a task, and resolve them when the task
 * later leaves the escalation. Everything here runs inside the caller's transaction, so a packet
 * exists exactly when the state that caused it does; delivery happens later, from the outbox.
 */
import { APPROVAL_REASONS, CLOSED_STATES, isOneOf, type OperatorAction, type TaskState } from '../lifecycle/vocabulary.js';
import type { ActionContext } from '../orchestrator/operator.js';
import type { Runtime } from '../runtime.js';
import type { CheckpointHooks } from '../store/checkpoints.js';
import type { Db } from '../store/db.js';
import type { TaskRow } from '../store/tasks.js';
import { emitPacket, isScheduleAlert, refreshOpen, resolveOpen, type EmitContext } from './emit.js';

export interface EscalationHookOptions {
  /** Base URL of `runwarden serve` for `links.task` in packets. Default: no links. */
  publicUrl?: string;
}

export interface EscalationHooks {
  hooks: CheckpointHooks;
  onAction: NonNullable<ActionContext['onAction']>;
}

/**
 * The checkpoint hooks (packets when a worker stops a task, resolves when it finishes one) and
 * the operator-action hook (resolve on close, a new packet when a denial escalates, a refreshed
 * packet after a takeover).
 */
export function escalationHooks(rt: Pick<Runtime, 'config' | 'runbooks' | 'masker'>, opts: EscalationHookOptions = {}): EscalationHooks {
  const ctx: EmitContext = { config: rt.config, masker: rt.masker, ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}) };
  const planOf = (task: TaskRow) => (task.runbookId ? rt.runbooks.byId.get(task.runbookId) : undefined);

  const hooks: CheckpointHooks = {
    async onStop(tx, task, commit, now) {
      // An approval nobody gave by the deadline: the request is closed by the hand-over.
      if (task.state === 'escalated') await resolveOpen(tx, ctx, { taskId: task.id, now, which: (p) => isOneOf(APPROVAL_REASONS, p.reason) });
      await emitPacket(tx, ctx, { task, plan: planOf(task), now, ...(commit.escalation ? { reason: commit.escalation } : {}) });
    },
    async onFinish(tx, task, now) {
      // A partial-completion packet is written in this same transaction: it reports the end, so
      // it stays open; what it replaces (an earlier escalation) is resolved.
      await resolveOpen(tx, ctx, { taskId: task.id, now, which: (p) => p.reason !== 'partial_completion' && !isScheduleAlert(p) });
    },
  };

  async function onAction(tx: Db, task: TaskRow, _action: OperatorAction, before: TaskState): Promise<void> {
    const now = task.updatedAt;
    const after = task.state;
    if (before === 'awaiting_approval' && after !== 'awaiting_approval') {
      // The approval was decided (or the task cancelled): the request is answered.
      await resolveOpen(tx, ctx, { taskId: task.id, now, which: (p) => isOneOf(APPROVAL_REASONS, p.reason) });
    }
    if (after === 'escalated' && before !== 'escalated') {
      await emitPacket(tx, ctx, { task, plan: planOf(task), now, ...(task.escalation ? { reason: task.escalation } : {}) });
    } else if (isOneOf(CLOSED_STATES, after)) {
      await resolveOpen(tx, ctx, { taskId: task.id, now, which: (p) => !isScheduleAlert(p) });
    } else if (after === 'in_handover' && before !== 'in_handover') {
      await refreshOpen(tx, ctx, { task, plan: planOf(task) });
    }
  }

  return { hooks, onAction };
}

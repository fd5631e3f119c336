/**
 * Operator actions (lifecycle.md, "Operator actions"): one library function each, used by the
 * CLI and the HTTP API. Each requires an operator and a reason, is allowed only from the states
 * the transition table's ACTION_FROM lists, and is applied with its `operator.action` ledger
 * event in the same transaction as the state change. Automation continues from `queued`.
 * The actions that put a task back to work (resume, retry, skip) are in operator-rerun.ts.
 */
import { isRunwardenError, RunwardenError } from '../errors.js';
import { HELD_STATES, isOneOf } from '../lifecycle/vocabulary.js';
import { hashToken } from '../ids.js';
import { taskIdByCallback } from '../store/callbacks.js';
import { applyChange, getTask, type EscalationInfo, type TaskRow } from '../store/tasks.js';
import type { Cursor } from './cursor.js';
import { apply, cursorOf, deadlinePatch, load, needPlan, stepsOf, type ActionContext, type ActionInput, type ActionResult } from './operator-core.js';
import { resume, retry, skip } from './operator-rerun.js';
import { WAKE_CHANNEL } from './wake.js';

export type { ActionContext, ActionInput, ActionResult, ResumeOptions, RunbookUpgrade } from './operator-core.js';
export { resume, retry, skip };

/** A rollback an operator starts: its queue is worked out when a worker takes it up. */
const ROLLBACK: Cursor['phase'] = { at: 'compensating', failures: 0 };

export async function approve(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'approve', input);
  const cursor = cursorOf(task);
  cursor.step = { ...cursor.step, approval: { granted: true, by: input.operator, note: input.reason } };
  // Approved late, the task gets a fresh deadline, as a resumed one does, instead of escalating at once.
  const dl = plan ? deadlinePatch(task, plan, ctx.now) : { patch: {}, options: {} };
  const updated = await apply(ctx, task, 'approve', input, {
    to: 'queued',
    patch: { ...dl.patch, cursor, nextAttemptAt: null },
    options: dl.options,
    extra: [{ type: 'approval.decided', data: { granted: true, by: input.operator } }],
  });
  return { task: updated };
}

export async function deny(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'deny', input);
  const p = needPlan(task, plan);
  const step = task.currentStep ? p.steps[p.stepIndex[task.currentStep] ?? -1] : undefined;
  const cursor = cursorOf(task);
  const { approval: _approval, ...memo } = cursor.step;
  cursor.step = memo;
  const steps = stepsOf(task);
  if (step && steps[step.id]) steps[step.id] = { ...steps[step.id]!, status: 'failed', note: `approval denied by ${input.operator}: ${input.reason}`, finishedAt: ctx.now.toISOString() };
  const extra = [{ type: 'approval.decided' as const, data: { granted: false, by: input.operator } }];
  if (step?.onFailure.mode === 'rollback') {
    cursor.phase = ROLLBACK;
    return { task: await apply(ctx, task, 'deny', input, { to: 'compensating', patch: { cursor, steps, nextAttemptAt: null }, extra }) };
  }
  const escalation: EscalationInfo = {
    kind: 'non_retryable',
    failureClass: null,
    step: step?.id ?? null,
    message: `approval of ${step?.id ?? 'the task'} denied by ${input.operator}: ${input.reason}`,
    at: ctx.now.toISOString(),
  };
  return { task: await apply(ctx, task, 'deny', input, { to: 'escalated', patch: { cursor, steps, escalation, nextAttemptAt: null }, extra }) };
}

export async function takeover(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'takeover', input);
  return { task: await apply(ctx, task, 'takeover', input, { to: 'in_handover', patch: { nextAttemptAt: null } }) };
}

export async function rollback(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'rollback', input);
  const cursor: Cursor = { ...cursorOf(task), phase: ROLLBACK };
  return { task: await apply(ctx, task, 'rollback', input, { to: 'compensating', patch: { cursor } }) };
}

export async function complete(ctx: ActionContext, ref: string, input: ActionInput & { partial?: boolean }): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'complete', input);
  const to = input.partial ? 'partially_completed' : 'completed';
  return { task: await apply(ctx, task, 'complete', input, { to, patch: { currentStep: null, nextAttemptAt: null }, options: { partial: Boolean(input.partial) } }) };
}

export async function fail(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'fail', input);
  return { task: await apply(ctx, task, 'fail', input, { to: 'failed', patch: { nextAttemptAt: null } }) };
}

export async function cancel(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'cancel', input);
  // A worker mid-step stops at its next checkpoint (and aborts the action's signal); any other
  // task stops now. Whether a worker holds the lease is judged in the write, at ctx.now: a lease
  // renewed after the read (no ledger event) must not be cancelled under its worker.
  const pending = () => apply(ctx, task, 'cancel', input, { patch: { cancelRequested: true }, options: { pending: true }, lease: 'held' }).then((t) => ({ task: t, pending: true }));
  const now = (lease?: 'free') => apply(ctx, task, 'cancel', input, { to: 'cancelled', patch: { cancelRequested: true, nextAttemptAt: null, callbackTokenHash: null }, ...(lease ? { lease } : {}) }).then((t) => ({ task: t }));
  if (!isOneOf(HELD_STATES, task.state)) return now();
  const heldAtRead = Boolean(task.leaseOwner && task.leaseExpiresAt && task.leaseExpiresAt.getTime() > ctx.now.getTime());
  const [first, second] = heldAtRead ? [pending, () => now('free')] : [() => now('free'), pending];
  try {
    return await first();
  } catch (err) {
    // Only the lease moved since the read (same ledger): the other branch is the right one.
    if (isRunwardenError(err) && err.code === 'TASK_CHANGED' && err.details.lease !== undefined) return second();
    throw err;
  }
}

/** Delivers a callback to the task waiting on `token` (the token is the credential). */
export async function deliverCallback(ctx: Omit<ActionContext, 'runbooks'>, token: string, data: unknown): Promise<TaskRow> {
  const size = JSON.stringify(data ?? null).length;
  if (size > 65_536) throw new RunwardenError('REQUEST_INVALID', `callback data is ${size} bytes; at most 65536 are accepted`);
  const id = await taskIdByCallback(ctx.db, hashToken(token));
  const task = id ? await getTask(ctx.db, id) : undefined;
  if (!task || task.state !== 'waiting_callback') {
    throw new RunwardenError('CALLBACK_UNKNOWN', 'no task is waiting on that callback token');
  }
  const cursor = cursorOf(task);
  if (cursor.phase.at !== 'waiting') throw new RunwardenError('CALLBACK_UNKNOWN', 'no task is waiting on that callback token');
  cursor.phase = { ...cursor.phase, data: data ?? null, receivedAt: ctx.now.toISOString() };
  const updated = await applyChange(ctx.db, {
    taskId: task.id,
    now: ctx.now,
    to: 'queued',
    expect: { states: ['waiting_callback'], eventSeq: task.eventSeq },
    patch: { cursor, callbackTokenHash: null, nextAttemptAt: null },
    events: [{ type: 'callback.received', step: task.currentStep, actor: 'callback', data: { bytes: size } }],
  });
  await ctx.db.notify(WAKE_CHANNEL, updated.id).catch(() => undefined);
  return updated;
}

/** The actions by name, for the CLI and HTTP adapters. */
export const OPERATOR_ACTION_FUNCTIONS = { approve, deny, takeover, resume, retry, skip, rollback, complete, fail, cancel } as const;

/**
 * Operator actions (lifecycle.md, "Operator actions"): one library function each, used by the
 * CLI and the HTTP API. Each requires an operator and a reason, is allowed only from the states
 * the transition table's ACTION_FROM lists, and is applied with its `operator.action` ledger
 * event in the same transaction as the state change. Automation continues from `queued`.
 */
import { RunwardenError } from '../errors.js';
import { ACTION_FROM, actionsAllowedFrom } from '../lifecycle/transitions.js';
import type { OperatorAction, TaskState } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { applyChange, getTask, type TaskPatch, type TaskRow } from '../store/tasks.js';
import { hashToken } from '../ids.js';
import { WAKE_CHANNEL } from './wake.js';
import type { Cursor, EscalationInfo, StepRecord } from './types.js';

export interface ActionContext {
  db: Db;
  runbooks: RunbookSet;
  now: Date;
  /** Runs inside the action's transaction (packet update or resolve at the sinks). */
  onAction?: (tx: Db, task: TaskRow, action: OperatorAction, before: TaskState) => Promise<void>;
}

export interface ActionInput {
  operator: string;
  reason: string;
}

export interface ResumeOptions extends ActionInput {
  /** Restart from this earlier (or the current) step. */
  from?: string;
  /** Give the task a fresh retry budget. */
  resetBudget?: boolean;
  /** Required to resume a `failed` task; resets the budget too. */
  force?: boolean;
  /** Confirms re-running steps that changed something (`--from`). */
  yes?: boolean;
  /** Show the plan, change nothing. */
  dryRun?: boolean;
}

export interface ActionResult {
  task: TaskRow;
  /** What `resume --from` re-runs, and the steps among them that changed something. */
  plan?: { from: string; rerun: string[]; changed: string[] };
  /** `cancel` of a task a worker holds: it stops at the worker's next safe point. */
  pending?: boolean;
  dryRun?: boolean;
}

function requireWho(input: ActionInput): void {
  const problems = [];
  if (!input.operator?.trim()) problems.push({ path: 'operator', message: 'who is acting is required (--operator)' });
  if (!input.reason?.trim()) problems.push({ path: 'reason', message: 'why is required (--reason)' });
  if (problems.length) throw new RunwardenError('REQUEST_INVALID', 'an operator action needs an operator and a reason', { problems });
}

async function load(ctx: ActionContext, ref: string, action: OperatorAction, input: ActionInput): Promise<{ task: TaskRow; plan: CompiledRunbook | undefined }> {
  requireWho(input);
  const task = await getTask(ctx.db, ref);
  if (!task) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
  const allowed = ACTION_FROM[action] as readonly TaskState[];
  if (!allowed.includes(task.state)) {
    const now = actionsAllowedFrom(task.state);
    throw new RunwardenError(
      'ACTION_NOT_ALLOWED',
      `${action} is not allowed: task ${task.id} is ${task.state}; ${action} is allowed from ${allowed.join(', ')}. From ${task.state}: ${now.length ? now.join(', ') : 'nothing (it is final; read it with show)'}`,
      { details: { state: task.state, action, allowedFrom: allowed, allowedNow: now } },
    );
  }
  const plan = task.runbookId ? ctx.runbooks.byId.get(task.runbookId) : undefined;
  return { task, plan };
}

function needPlan(task: TaskRow, plan: CompiledRunbook | undefined): CompiledRunbook {
  if (!plan) throw new RunwardenError('RUNBOOK_NOT_FOUND', `runbook ${task.runbookId} of task ${task.id} is not loaded`);
  return plan;
}

async function apply(
  ctx: ActionContext,
  task: TaskRow,
  action: OperatorAction,
  input: ActionInput,
  change: { to?: TaskState; patch?: TaskPatch; options?: Record<string, unknown>; extra?: { type: 'approval.decided' | 'callback.received'; data: Record<string, unknown> }[] },
): Promise<TaskRow> {
  const actor = `operator:${input.operator}`;
  const updated = await ctx.db.transaction(async (tx) => {
    const t = await applyChange(tx, {
      taskId: task.id,
      now: ctx.now,
      ...(change.to ? { to: change.to } : {}),
      expect: { states: [task.state] },
      ...(change.patch ? { patch: change.patch } : {}),
      events: [
        { type: 'operator.action', step: task.currentStep, actor, data: { action, operator: input.operator, reason: input.reason, ...(change.options ?? {}) } },
        ...(change.extra ?? []).map((e) => ({ type: e.type, step: task.currentStep, actor, data: e.data })),
      ],
    });
    if (ctx.onAction) await ctx.onAction(tx, t, action, task.state);
    return t;
  });
  if (updated.state === 'queued' || updated.state === 'compensating') await ctx.db.notify(WAKE_CHANNEL, updated.id).catch(() => undefined);
  return updated;
}

const cursorOf = (t: TaskRow): Cursor => structuredClone((t.cursor ?? {}) as Cursor);
const stepsOf = (t: TaskRow): Record<string, StepRecord> => structuredClone(t.steps as Record<string, StepRecord>);

/** Re-enter the current step afresh: new failure counts, same idempotency key, probe if in doubt. */
function reenter(task: TaskRow, plan: CompiledRunbook, cursor: Cursor): Cursor {
  const step = task.currentStep ? plan.steps[plan.stepIndex[task.currentStep] ?? -1] : undefined;
  const inDoubt = task.currentStep ? (task.steps as Record<string, StepRecord>)[task.currentStep]?.status === 'in_doubt' : false;
  const next: Cursor = { ...cursor, phase: 'enter' };
  // A wait that timed out starts over with a new deadline (and the task's same token).
  if (next.callback && next.callback.data === undefined) delete next.callback;
  delete next.failures;
  delete next.verify;
  delete next.refresh;
  if (step?.repeat === 'once' && (inDoubt || cursor.probeFirst)) next.probeFirst = true;
  return next;
}

/** A resumed task past its deadline gets a fresh one, recorded, instead of escalating at once. */
function deadlinePatch(task: TaskRow, plan: CompiledRunbook, now: Date): { patch: TaskPatch; options: Record<string, unknown> } {
  if (!task.deadlineAt || task.deadlineAt.getTime() > now.getTime()) return { patch: {}, options: {} };
  const deadlineAt = new Date(now.getTime() + plan.policy.deadlineMs);
  return { patch: { deadlineAt }, options: { deadlineExtendedTo: deadlineAt.toISOString() } };
}

export async function approve(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'approve', input);
  const cursor = cursorOf(task);
  const step = cursor.approval?.step ?? task.currentStep;
  cursor.approval = { step: step ?? '', granted: true, by: input.operator, note: input.reason };
  const updated = await apply(ctx, task, 'approve', input, {
    to: 'queued',
    patch: { cursor: cursor as TaskPatch['cursor'] },
    extra: [{ type: 'approval.decided', data: { granted: true, by: input.operator } }],
  });
  return { task: updated };
}

export async function deny(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'deny', input);
  const p = needPlan(task, plan);
  const step = task.currentStep ? p.steps[p.stepIndex[task.currentStep] ?? -1] : undefined;
  const cursor = cursorOf(task);
  delete cursor.approval;
  const steps = stepsOf(task);
  if (step && steps[step.id]) steps[step.id] = { ...steps[step.id]!, status: 'failed', note: `approval denied by ${input.operator}: ${input.reason}`, finishedAt: ctx.now.toISOString() };
  const extra = [{ type: 'approval.decided' as const, data: { granted: false, by: input.operator } }];
  if (step?.onFailure.mode === 'rollback') {
    delete cursor.compensation;
    const updated = await apply(ctx, task, 'deny', input, { to: 'compensating', patch: { cursor: cursor as TaskPatch['cursor'], steps }, extra });
    return { task: updated };
  }
  const escalation: EscalationInfo = {
    kind: 'non_retryable',
    failureClass: null,
    step: step?.id ?? null,
    message: `approval of ${step?.id ?? 'the task'} denied by ${input.operator}: ${input.reason}`,
    at: ctx.now.toISOString(),
  };
  const updated = await apply(ctx, task, 'deny', input, { to: 'escalated', patch: { cursor: cursor as TaskPatch['cursor'], steps, escalation }, extra });
  return { task: updated };
}

export async function takeover(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'takeover', input);
  return { task: await apply(ctx, task, 'takeover', input, { to: 'in_handover', patch: { nextAttemptAt: null } }) };
}

export async function resume(ctx: ActionContext, ref: string, input: ResumeOptions): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'resume', input);
  const p = needPlan(task, plan);
  if (task.state === 'failed' && !input.force) {
    throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} is failed: resume it only with --force (which also resets its retry budget)`, { details: { state: task.state } });
  }
  const escalation = task.escalation as EscalationInfo | null;
  const options: Record<string, unknown> = {};
  const patch: TaskPatch = {};
  if (input.resetBudget || input.force) {
    patch.retryUsed = 0;
    options.budgetReset = { from: task.retryUsed, limit: task.retryLimit };
  }
  if (input.force) options.force = true;
  const dl = deadlinePatch(task, p, ctx.now);
  Object.assign(patch, dl.patch);
  Object.assign(options, dl.options);

  // An escalated rollback resumes the rollback.
  if (!input.from && escalation?.kind === 'compensation_failed') {
    const cursor = cursorOf(task);
    delete cursor.compensation;
    const steps = stepsOf(task);
    for (const r of Object.values(steps)) if (r.status === 'compensation_failed') r.status = 'succeeded';
    return { task: await apply(ctx, task, 'resume', input, { to: 'compensating', patch: { ...patch, cursor: cursor as TaskPatch['cursor'], steps }, options }) };
  }

  let cursor = cursorOf(task);
  const steps = stepsOf(task);
  let rerunPlan: ActionResult['plan'];
  if (input.from) {
    const fromIndex = p.stepIndex[input.from];
    const currentIndex = task.currentStep ? p.stepIndex[task.currentStep] ?? p.steps.length : p.steps.length;
    if (fromIndex === undefined) throw new RunwardenError('REQUEST_INVALID', `--from ${input.from}: runbook ${p.id} has no such step; steps: ${p.steps.map((s) => s.id).join(', ')}`);
    if (fromIndex > currentIndex) throw new RunwardenError('REQUEST_INVALID', `--from ${input.from} is after the current step ${task.currentStep}; resume only goes back`);
    const rerun = p.steps.slice(fromIndex, currentIndex + 1).map((s) => s.id);
    const changed = p.steps
      .slice(fromIndex, currentIndex + 1)
      .filter((s) => s.changes && ['succeeded', 'in_doubt', 'failed'].includes(steps[s.id]?.status ?? 'pending') && (steps[s.id]?.attempts ?? 0) > 0)
      .map((s) => s.id);
    rerunPlan = { from: input.from, rerun, changed };
    if (input.dryRun) return { task, plan: rerunPlan, dryRun: true };
    if (changed.length && !input.yes) {
      throw new RunwardenError(
        'CONFIRMATION_REQUIRED',
        `resuming from ${input.from} runs again steps that changed something: ${changed.join(', ')}. Check them, then confirm with --yes (or see the plan with --dry-run)`,
        { details: rerunPlan },
      );
    }
    for (const s of p.steps.slice(fromIndex)) steps[s.id] = { status: 'pending', attempts: 0, captures: {} };
    // Attempt numbers keep counting up: the earlier attempts stay in the history.
    cursor = { counters: cursor.counters ?? {}, phase: 'enter' };
    patch.currentStep = input.from;
    options.from = input.from;
    options.rerun = rerun;
  } else if (input.dryRun) {
    return { task, dryRun: true, plan: { from: task.currentStep ?? '', rerun: task.currentStep ? [task.currentStep] : [], changed: [] } };
  } else {
    cursor = reenter(task, p, cursor);
  }
  const updated = await apply(ctx, task, 'resume', input, { to: 'queued', patch: { ...patch, cursor: cursor as TaskPatch['cursor'], steps, escalation: null }, options });
  return { task: updated, ...(rerunPlan ? { plan: rerunPlan } : {}) };
}

export async function retry(ctx: ActionContext, ref: string, input: ActionInput & { yes?: boolean }): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'retry', input);
  const p = needPlan(task, plan);
  const step = task.currentStep ? p.steps[p.stepIndex[task.currentStep] ?? -1] : undefined;
  if (!step) throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} has no current step to retry`);
  const cursor = reenter(task, p, cursorOf(task));
  const options: Record<string, unknown> = {};
  if (step.repeat === 'once') {
    if (step.probe) {
      // The double-charge protection holds for operators too: the probe runs first.
      cursor.probeFirst = true;
    } else if (!input.yes) {
      throw new RunwardenError(
        'CONFIRMATION_REQUIRED',
        `${step.id} is a once step without a probe: running it again may repeat its effect. Check ${step.id}'s system first; confirm with --yes, or use skip if it did take effect`,
        { details: { step: step.id } },
      );
    } else {
      delete cursor.probeFirst;
      options.confirmedReplayOfOnceStep = true;
    }
  }
  const dl = deadlinePatch(task, p, ctx.now);
  const updated = await apply(ctx, task, 'retry', input, {
    to: 'queued',
    patch: { ...dl.patch, cursor: cursor as TaskPatch['cursor'], nextAttemptAt: null, escalation: null },
    options: { step: step.id, ...options, ...dl.options },
  });
  return { task: updated };
}

export async function skip(ctx: ActionContext, ref: string, input: ActionInput & { capture?: Record<string, unknown> }): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'skip', input);
  const p = needPlan(task, plan);
  const id = task.currentStep;
  if (!id) throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} has no current step to skip`);
  const steps = stepsOf(task);
  steps[id] = { ...(steps[id] ?? { attempts: 0, captures: {} }), status: 'skipped', captures: { ...(steps[id]?.captures ?? {}), ...(input.capture ?? {}) }, note: `skipped by ${input.operator}: ${input.reason}`, finishedAt: ctx.now.toISOString() };
  const cursor: Cursor = { ...cursorOf(task), phase: 'next' };
  delete cursor.probeFirst;
  const dl = deadlinePatch(task, p, ctx.now);
  const updated = await apply(ctx, task, 'skip', input, {
    to: 'queued',
    patch: { ...dl.patch, steps, cursor: cursor as TaskPatch['cursor'], escalation: null },
    options: { step: id, ...(input.capture ? { capture: Object.keys(input.capture) } : {}), ...dl.options },
  });
  return { task: updated };
}

export async function rollback(ctx: ActionContext, ref: string, input: ActionInput): Promise<ActionResult> {
  const { task } = await load(ctx, ref, 'rollback', input);
  const cursor = cursorOf(task);
  delete cursor.compensation;
  return { task: await apply(ctx, task, 'rollback', input, { to: 'compensating', patch: { cursor: cursor as TaskPatch['cursor'] } }) };
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
  const held = (task.state === 'running' || task.state === 'compensating') && task.leaseOwner && task.leaseExpiresAt && task.leaseExpiresAt.getTime() > ctx.now.getTime();
  if (held) {
    // A worker is mid-step: it stops at its next checkpoint and aborts the action's signal.
    const updated = await apply(ctx, task, 'cancel', input, { patch: { cancelRequested: true }, options: { pending: true } });
    return { task: updated, pending: true };
  }
  return { task: await apply(ctx, task, 'cancel', input, { to: 'cancelled', patch: { cancelRequested: true, nextAttemptAt: null, callbackTokenHash: null } }) };
}

/** Delivers a callback to the task waiting on `token` (the token is the credential). */
export async function deliverCallback(ctx: Omit<ActionContext, 'runbooks'>, token: string, data: unknown): Promise<TaskRow> {
  const size = JSON.stringify(data ?? null).length;
  if (size > 65_536) throw new RunwardenError('REQUEST_INVALID', `callback data is ${size} bytes; at most 65536 are accepted`);
  const rows = await ctx.db.query<{ id: string }>('SELECT id FROM tasks WHERE callback_token_hash = $1', [hashToken(token)]);
  const id = rows[0]?.id;
  const task = id ? await getTask(ctx.db, id) : undefined;
  if (!task || task.state !== 'waiting_callback') {
    throw new RunwardenError('CALLBACK_UNKNOWN', 'no task is waiting on that callback token');
  }
  const cursor = cursorOf(task);
  if (!cursor.callback) throw new RunwardenError('CALLBACK_UNKNOWN', 'no task is waiting on that callback token');
  cursor.callback = { ...cursor.callback, data: data ?? null, receivedAt: ctx.now.toISOString() };
  const updated = await applyChange(ctx.db, {
    taskId: task.id,
    now: ctx.now,
    to: 'queued',
    expect: { states: ['waiting_callback'] },
    patch: { cursor: cursor as TaskPatch['cursor'], callbackTokenHash: null, nextAttemptAt: null },
    events: [{ type: 'callback.received', step: task.currentStep, actor: 'callback', data: { bytes: size } }],
  });
  await ctx.db.notify(WAKE_CHANNEL, updated.id).catch(() => undefined);
  return updated;
}

/** The actions by name, for the CLI and HTTP adapters. */
export const OPERATOR_ACTION_FUNCTIONS = { approve, deny, takeover, resume, retry, skip, rollback, complete, fail, cancel } as const;

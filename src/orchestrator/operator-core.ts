/**
 * What every operator action shares: who acts and why, reading the task and checking the action
 * is allowed from its state (the transition table's ACTION_FROM), and applying the change with
 * its `operator.action` ledger event in one transaction. Used by operator.ts and operator-rerun.ts.
 */
import { RunwardenError } from '../errors.js';
import { ACTION_FROM, actionsAllowedFrom } from '../lifecycle/transitions.js';
import type { OperatorAction, TaskState } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { applyChange, getTask, type TaskPatch, type TaskRow } from '../store/tasks.js';
import { readCursor, type Cursor } from './cursor.js';
import { runbookOf } from './runbook-version.js';
import type { StepRecord } from './types.js';
import { WAKE_CHANNEL } from './wake.js';

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
  /**
   * Whether the escalation packet was enough to act without redoing discovery (`--packet-helpful
   * yes|no` on close and resume): recorded with the action, counted by the audit figures.
   */
  packetHelpful?: boolean;
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
  /**
   * Move the task to the runbook version loaded now (from the one it started with), recorded as
   * `runbookUpgrade` on the action's event. Refused when the step the task resumes at is not in it.
   */
  upgradeRunbook?: boolean;
}

export interface ActionResult {
  task: TaskRow;
  /** What `resume --from` re-runs, and the steps among them that changed something. */
  plan?: { from: string; rerun: string[]; changed: string[] };
  /** `cancel` of a task a worker holds: it stops at the worker's next safe point. */
  pending?: boolean;
  /** `resume --upgrade-runbook`: the version the task left and the one it runs on now. */
  runbookUpgrade?: RunbookUpgrade;
  dryRun?: boolean;
}

export interface RunbookUpgrade {
  from: { version: number | null; hash: string | null };
  to: { version: number; hash: string };
}

/** The change an action makes besides its `operator.action` event. */
export interface ActionChange {
  to?: TaskState;
  patch?: TaskPatch;
  /** Recorded with the `operator.action` event. */
  options?: Record<string, unknown>;
  extra?: { type: 'approval.decided' | 'callback.received'; data: Record<string, unknown> }[];
  /** Applied only while a worker holds the task's lease (`held`) or none does (`free`), judged in the write. */
  lease?: 'held' | 'free';
}

function requireWho(input: ActionInput): void {
  const problems = [];
  if (!input.operator?.trim()) problems.push({ path: 'operator', message: 'who is acting is required (--operator)' });
  if (!input.reason?.trim()) problems.push({ path: 'reason', message: 'why is required (--reason)' });
  if (problems.length) throw new RunwardenError('REQUEST_INVALID', 'an operator action needs an operator and a reason', { problems });
}

/** Reads the task and its runbook, refusing the action where the table does not allow it. */
export async function load(ctx: ActionContext, ref: string, action: OperatorAction, input: ActionInput): Promise<{ task: TaskRow; plan: CompiledRunbook | undefined }> {
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
  // Actions act on the version the task runs on, not on whatever the folder holds now.
  const plan = await runbookOf(ctx.db, ctx.runbooks, task);
  return { task, plan };
}

export function needPlan(task: TaskRow, plan: CompiledRunbook | undefined): CompiledRunbook {
  if (!plan) throw new RunwardenError('RUNBOOK_NOT_FOUND', `runbook ${task.runbookId} of task ${task.id} is not loaded`);
  return plan;
}

/** Applies an action's change with its ledger events (and the hook) in one transaction. */
export async function apply(ctx: ActionContext, task: TaskRow, action: OperatorAction, input: ActionInput, change: ActionChange): Promise<TaskRow> {
  const actor = `operator:${input.operator}`;
  const updated = await ctx.db.transaction(async (tx) => {
    const t = await applyChange(tx, {
      taskId: task.id,
      now: ctx.now,
      ...(change.to ? { to: change.to } : {}),
      // Fenced on the version read: a change decided on a read a worker (or another operator)
      // has overtaken is refused as TASK_CHANGED instead of writing over what it did.
      expect: { states: [task.state], eventSeq: task.eventSeq, ...(change.lease ? { lease: change.lease } : {}) },
      ...(change.patch ? { patch: change.patch } : {}),
      events: [
        {
          type: 'operator.action',
          step: task.currentStep,
          actor,
          data: {
            action,
            operator: input.operator,
            reason: input.reason,
            // Asked of escalations only: the packet is what the answer is about.
            ...(input.packetHelpful !== undefined && (task.state === 'escalated' || task.state === 'in_handover') ? { packetHelpful: input.packetHelpful } : {}),
            ...(change.options ?? {}),
          },
        },
        ...(change.extra ?? []).map((e) => ({ type: e.type, step: task.currentStep, actor, data: e.data })),
      ],
    });
    if (ctx.onAction) await ctx.onAction(tx, t, action, task.state);
    return t;
  });
  if (updated.state === 'queued' || updated.state === 'compensating') await ctx.db.notify(WAKE_CHANNEL, updated.id).catch(() => undefined);
  return updated;
}

/** The task's cursor, read (and upgraded) for an action to change. */
export function cursorOf(t: TaskRow): Cursor {
  return readCursor(t.cursor, { state: t.state, currentStep: t.currentStep, escalationKind: t.escalation?.kind ?? null });
}

export function stepsOf(t: TaskRow): Record<string, StepRecord> {
  return structuredClone(t.steps);
}

/** A task resumed past its deadline gets a fresh one, recorded, instead of escalating at once. */
export function deadlinePatch(task: TaskRow, plan: CompiledRunbook, now: Date): { patch: TaskPatch; options: Record<string, unknown> } {
  if (!task.deadlineAt || task.deadlineAt.getTime() > now.getTime()) return { patch: {}, options: {} };
  const deadlineAt = new Date(now.getTime() + plan.policy.deadlineMs);
  return { patch: { deadlineAt }, options: { deadlineExtendedTo: deadlineAt.toISOString() } };
}

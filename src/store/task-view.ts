/**
 * The task as it is shown: `runwarden show --json`, `submit --json` and the HTTP API return this
 * one shape, whose fixed fields interfaces.md names (`id`, `externalRef`, `taskClass`,
 * `runbook`, `state`, `currentStep`, `retryBudget`, `steps`, `events`). Steps are listed in the
 * runbook's order when the runbook is known (jsonb keeps object keys in an order of its own, not
 * the runbook's), else by the time they started, then by name.
 */
import { isOneOf, TERMINAL_STATES, type StepStatus, type TaskState } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import type { Db } from './db.js';
import { listEvents, type EventRow } from './events.js';
import { getTask, type StepRecord, type TaskRow } from './tasks.js';

/** A step as shown: its record plus its id. */
export interface StepView {
  id: string;
  status: StepStatus;
  attempts: number;
  captures: Record<string, unknown>;
  startedAt: string | null;
  finishedAt: string | null;
  note: string | null;
}

/** A ledger event as shown. */
export interface EventView {
  seq: number;
  at: string;
  type: string;
  step: string | null;
  actor: string;
  data: Record<string, unknown>;
}

/** One line of `runwarden tasks`. */
export interface TaskSummary {
  id: string;
  externalRef: string | null;
  taskClass: string;
  /** The runbook version the task runs on: id, version number, and content hash (null for a task from before pinning). */
  runbook: { id: string; version: number; hash: string | null } | null;
  state: TaskState;
  currentStep: string | null;
  priority: number;
  retryBudget: { used: number; limit: number };
  createdAt: string;
  updatedAt: string;
}

/** The task as `show --json` prints it (interfaces.md fixes its named fields). */
export interface TaskView extends TaskSummary {
  requestedBy: string | null;
  input: Record<string, unknown>;
  deadlineAt: string | null;
  nextAttemptAt: string | null;
  leaseOwner: string | null;
  cancelRequested: boolean;
  /** Intake's `{ kind, problems }` when the task was rejected. */
  rejection: unknown;
  /** The reason of the last escalation. */
  escalation: TaskRow['escalation'];
  /**
   * The task's callback credential (runbooks with a `wait` step) while it can still be used,
   * and the deadline of the wait in progress: what `runwarden callback` needs.
   */
  callback: { token: string; waiting: boolean; timeoutAt: string | null } | null;
  steps: StepView[];
  events: EventView[];
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The line `runwarden tasks` shows for a task (and the array `tasks --json` prints). */
export function summarizeTask(t: TaskRow): TaskSummary {
  return {
    id: t.id,
    externalRef: t.externalRef,
    taskClass: t.taskClass,
    runbook: t.runbookId !== null && t.runbookVersion !== null ? { id: t.runbookId, version: t.runbookVersion, hash: t.runbookHash } : null,
    state: t.state,
    currentStep: t.currentStep,
    priority: t.priority,
    retryBudget: { used: t.retryUsed, limit: t.retryLimit },
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}

/** The steps in runbook order; steps the runbook no longer has (another version) come last. */
function orderedSteps(steps: Record<string, StepRecord>, runbook: CompiledRunbook | undefined): StepView[] {
  const order = runbook ? runbook.steps.map((s) => s.id).filter((id) => id in steps) : [];
  const rest = Object.keys(steps)
    .filter((id) => !order.includes(id))
    .sort((a, b) => (steps[a]!.startedAt ?? '\uffff').localeCompare(steps[b]!.startedAt ?? '\uffff') || a.localeCompare(b));
  order.push(...rest);
  return order.map((id) => {
    const s = steps[id]!;
    return {
      id,
      status: s.status,
      attempts: s.attempts,
      captures: s.captures ?? {},
      startedAt: s.startedAt ?? null,
      finishedAt: s.finishedAt ?? null,
      note: s.note ?? null,
    };
  });
}

/** A ledger event with its time as an ISO string. */
export function eventView(e: EventRow): EventView {
  return { seq: e.seq, at: e.at.toISOString(), type: e.type, step: e.step, actor: e.actor, data: e.data };
}

/**
 * Shapes a task and its ledger. Pass the runbook the task ran (same id and version) for the
 * step order; a different version is used for order only, never for content.
 */
export function taskView(t: TaskRow, events: EventRow[], runbook?: CompiledRunbook): TaskView {
  return {
    ...summarizeTask(t),
    requestedBy: t.requestedBy,
    input: t.input,
    deadlineAt: iso(t.deadlineAt),
    nextAttemptAt: iso(t.nextAttemptAt),
    leaseOwner: t.leaseOwner,
    cancelRequested: t.cancelRequested,
    rejection: t.rejection,
    escalation: t.escalation,
    callback: callbackView(t),
    steps: orderedSteps(t.steps, runbook && runbook.id === t.runbookId ? runbook : undefined),
    events: events.map(eventView),
  };
}

function callbackView(t: TaskRow): TaskView['callback'] {
  const token = t.cursor.callbackToken;
  if (typeof token !== 'string' || isOneOf(TERMINAL_STATES, t.state)) return null;
  const waiting = t.state === 'waiting_callback';
  return { token, waiting, timeoutAt: waiting ? waitTimeout(t.cursor) : null };
}

/** When the wait in progress times out: the cursor's waiting phase (its earlier shape: `callback`). */
function waitTimeout(cursor: Record<string, unknown>): string | null {
  const phase = cursor.phase as { at?: unknown; timeoutAt?: unknown } | undefined;
  const old = cursor.callback as { timeoutAt?: unknown } | undefined;
  const at = typeof phase === 'object' && phase?.at === 'waiting' ? phase.timeoutAt : old?.timeoutAt;
  return typeof at === 'string' ? at : null;
}

/** Reads a task by id or externalRef with its ledger; undefined when there is none. */
export async function readTaskView(
  db: Db,
  ref: string,
  runbookOf: (id: string) => CompiledRunbook | undefined = () => undefined,
): Promise<TaskView | undefined> {
  const task = await getTask(db, ref);
  if (!task) return undefined;
  const events = await listEvents(db, task.id);
  return taskView(task, events, task.runbookId ? runbookOf(task.runbookId) : undefined);
}

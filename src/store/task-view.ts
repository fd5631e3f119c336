/**
 * The task as it is shown: `runwarden show --json`, `submit --json` and the HTTP API return this
 * one shape, whose fixed fields interfaces.md names (`id`, `externalRef`, `taskClass`,
 * `runbook`, `state`, `currentStep`, `retryBudget`, `steps`, `events`). Steps are listed in the
 * runbook's order when the runbook is known (jsonb keeps object keys in an order of its own, not
 * the runbook's), else by the time they started, then by name.
 *
 * This is the one place a task becomes something shown, so it is where showing is made safe:
 * inputs the runbook marks `sensitive` are masked (at their path, and by value everywhere in the
 * view), the deployment's secrets too when a masker is given, and whatever is stored, however
 * odd (a value nested thousands deep, a step record of the wrong shape), gives a view rather
 * than an exception: a task that cannot be shown cannot be helped.
 */
import { isOneOf, TERMINAL_STATES, type StepStatus, type TaskState, type WorkRole } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import type { Masker } from '../secrets/mask.js';
import { maskPaths, taskMasker } from '../secrets/sensitive.js';
import type { Db } from './db.js';
import { concurrencyWait } from './claim.js';
import { listEvents, type EventRow } from './events.js';
import { getTask, type StepRecord, type TaskRow } from './tasks.js';

/** How deep a shown value goes; what lies deeper is replaced by NOT_SHOWN_DEEP. */
export const MAX_VIEW_DEPTH = 64;
/** What a value nested deeper than MAX_VIEW_DEPTH is shown as. */
export const NOT_SHOWN_DEEP = `[nested deeper than ${MAX_VIEW_DEPTH} levels: not shown]`;

/** Options of `taskView`. */
export interface ViewOptions {
  /** Masks the deployment's secret values too. Default: sensitive inputs only. */
  masker?: Masker;
  /** What a queued task waits for (its concurrency key's holders); read by readTaskView. */
  waitingFor?: TaskView['waitingFor'];
}

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
  /** The role whose work comes next (only a worker serving it takes the task up); null: any worker. */
  awaitingRole: WorkRole | null;
  /** A queued task held back by its concurrency key: the key's value, its limit, the tasks holding it. */
  waitingFor: { concurrencyKey: string; limit: number; holders: { id: string; state: TaskState }[] } | null;
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

const iso = (d: Date | null): string | null => (d && !Number.isNaN(d.getTime()) ? d.toISOString() : null);
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * A copy of a JSON value cut at `max` levels (deeper objects and arrays become NOT_SHOWN_DEEP).
 * The recursion is bounded by `max`, so it is safe on any stored value.
 */
export function boundedValue(v: unknown, max = MAX_VIEW_DEPTH, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || v instanceof Date) return v;
  if (depth >= max) return NOT_SHOWN_DEEP;
  if (Array.isArray(v)) return v.map((x) => boundedValue(x, max, depth + 1));
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: boundedValue(x, max, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

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
function orderedSteps(stored: unknown, runbook: CompiledRunbook | undefined, intakeOrder: readonly string[] | undefined): StepView[] {
  const steps = asObj(stored) as Record<string, Partial<StepRecord> | undefined>;
  const started = (id: string) => strOrNull(asObj(steps[id]).startedAt) ?? '\uffff';
  const order = (runbook ? runbook.steps.map((s) => s.id) : [...(intakeOrder ?? [])]).filter((id) => id in steps);
  const rest = Object.keys(steps)
    .filter((id) => !order.includes(id))
    .sort((a, b) => started(a).localeCompare(started(b)) || a.localeCompare(b));
  order.push(...rest);
  return order.map((id) => {
    const s = asObj(steps[id]);
    return {
      id,
      status: (typeof s.status === 'string' ? s.status : 'pending') as StepStatus,
      attempts: Number.isFinite(Number(s.attempts)) ? Number(s.attempts) : 0,
      captures: asObj(s.captures),
      startedAt: strOrNull(s.startedAt),
      finishedAt: strOrNull(s.finishedAt),
      note: typeof s.note === 'string' ? s.note : s.note === undefined || s.note === null ? null : JSON.stringify(s.note) ?? null,
    };
  });
}

/** A list of strings intake recorded with the acceptance (`steps`, `sensitiveInputs`), if it did. */
function recorded(events: readonly EventRow[], key: 'steps' | 'sensitiveInputs'): string[] | undefined {
  const v = events.find((e) => e.type === 'intake.accepted')?.data?.[key];
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : undefined;
}

/**
 * The dotted input paths to mask: those the runbook marks sensitive, and those intake recorded
 * when it accepted the task (so a task stays masked when its runbook is not loaded, or changed).
 */
export function sensitivePaths(runbook: Pick<CompiledRunbook, 'sensitiveInputs'> | undefined, events: readonly EventRow[]): string[] {
  return [...new Set([...(runbook?.sensitiveInputs ?? []), ...(recorded(events, 'sensitiveInputs') ?? [])])];
}

/**
 * True when showing the task needs its runbook: intake did not record the step order and the
 * sensitive inputs with the acceptance (tasks accepted before it did). `show` loads the runbooks
 * only then: compiling a folder of them is most of what a reading command would spend.
 */
export function viewNeedsRunbook(events: readonly EventRow[]): boolean {
  const accepted = events.some((e) => e.type === 'intake.accepted');
  return accepted && (recorded(events, 'steps') === undefined || recorded(events, 'sensitiveInputs') === undefined);
}

/** A ledger event with its time as an ISO string. */
export function eventView(e: EventRow): EventView {
  return { seq: e.seq, at: iso(e.at) ?? String(e.at), type: e.type, step: e.step, actor: e.actor, data: asObj(e.data) };
}

/**
 * Shapes a task and its ledger, masked for showing (see the module comment). Pass the runbook
 * the task ran (same id) for the step order and its sensitive inputs.
 */
export function taskView(t: TaskRow, events: EventRow[], runbook?: CompiledRunbook, opts: ViewOptions = {}): TaskView {
  const plan = runbook && runbook.id === t.runbookId ? runbook : undefined;
  const input = boundedValue(asObj(t.input)) as Obj;
  const paths = sensitivePaths(plan, events);
  const view: TaskView = {
    ...summarizeTask(t),
    requestedBy: t.requestedBy,
    input: maskPaths(input, paths),
    deadlineAt: iso(t.deadlineAt),
    nextAttemptAt: iso(t.nextAttemptAt),
    leaseOwner: t.leaseOwner,
    awaitingRole: t.awaitingRole,
    waitingFor: opts.waitingFor ?? null,
    cancelRequested: t.cancelRequested,
    rejection: boundedValue(t.rejection),
    escalation: isObj(t.escalation) ? (boundedValue(t.escalation) as TaskRow['escalation']) : null,
    callback: null,
    steps: boundedValue(orderedSteps(t.steps, plan, recorded(events, 'steps'))) as StepView[],
    events: events.map((e) => boundedValue(eventView(e)) as EventView),
  };
  // The callback token is shown on purpose (it is what `runwarden callback` needs), so it is
  // added after masking: under the key `token` the masker would hide it.
  return { ...taskMasker(opts.masker, input, paths).maskValue(view), callback: callbackView(t) };
}

function callbackView(t: TaskRow): TaskView['callback'] {
  const cursor = asObj(t.cursor);
  const token = strOrNull(cursor.callbackToken);
  if (!token || isOneOf(TERMINAL_STATES, t.state)) return null;
  const waiting = t.state === 'waiting_callback';
  return { token, waiting, timeoutAt: waiting ? waitTimeout(cursor) : null };
}

/** When the wait in progress times out: the cursor's waiting phase (its earlier shape: `callback`). */
function waitTimeout(cursor: Obj): string | null {
  const phase = asObj(cursor.phase);
  return phase.at === 'waiting' ? strOrNull(phase.timeoutAt) : strOrNull(asObj(cursor.callback).timeoutAt);
}

/**
 * Reads a task by id or externalRef with its ledger, shaped by `taskView`; undefined when there is
 * none. `runbookOf` is asked for the task's runbook only when the view needs it (viewNeedsRunbook).
 */
export async function readTaskView(
  db: Db,
  ref: string,
  runbookOf: (id: string) => CompiledRunbook | undefined | Promise<CompiledRunbook | undefined> = () => undefined,
  opts: ViewOptions = {},
): Promise<TaskView | undefined> {
  const task = await getTask(db, ref);
  if (!task) return undefined;
  const events = await listEvents(db, task.id);
  const runbook = task.runbookId && viewNeedsRunbook(events) ? await runbookOf(task.runbookId) : undefined;
  const wait = await concurrencyWait(db, task);
  return taskView(task, events, runbook, { ...opts, ...(wait ? { waitingFor: { concurrencyKey: wait.key, limit: wait.limit, holders: wait.holders } } : {}) });
}

/**
 * Intake: a task request becomes a `queued` task, or a `rejected` one stored with every reason
 * (unknown class, invalid input with JSON paths, a guard's denial). Nothing is dropped silently
 * and nothing runs for a rejected request.
 *
 * Refused before anything is stored: a request over the intake limits (intake-limits.ts), a
 * request for a task class whose runbook does not load (fixing the runbook makes the same request
 * good, so nothing should hold its externalRef meanwhile), and a different request under an
 * externalRef that already names a task. The same request again returns that task, the way
 * payment APIs treat a repeated idempotency key.
 */
import { z } from 'zod';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../config/deployment-config.js';
import { RunwardenError, type Problem } from '../errors.js';
import { newId } from '../ids.js';
import type { UnavailableRunbook } from '../runbook/load.js';
import type { CompiledRunbook, ExprContext, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { insertTask, taskByExternalRef, type NewTask } from '../store/intake.js';
import { saveRunbookVersion } from '../store/runbook-versions.js';
import type { StepRecord, TaskRow } from '../store/tasks.js';
import { checkRequestLimits, checkRequestTextSize } from './intake-limits.js';
import { firstRoleOf } from './roles.js';
import { WAKE_CHANNEL } from './wake.js';

export const TaskRequest = z
  .strictObject({
    taskClass: z.string().min(1).describe('the task class a runbook lists under taskClasses (service.restart, order.onboard, ...)'),
    externalRef: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('the ticket or work order (INC-4211), up to 200 characters; the same request again returns its task, a different one under the same ref is refused'),
    requestedBy: z.string().min(1).max(200).optional().describe('who asked: a queue, a person, a scheduler (queue:ops), up to 200 characters; shown in show and packets'),
    input: z.record(z.string(), z.unknown()).default({}).describe("the task's parameters, an object checked against the runbook's input schema; default {}"),
    priority: z.int().min(-1000).max(1000).default(0).describe('a whole number from -1000 to 1000; higher is claimed first; default 0'),
  })
  .describe('A task request (interfaces.md, "Task request")');
export type TaskRequest = z.infer<typeof TaskRequest>;

/** The task request's fields in order, each with whether it is required and what it is. */
export function taskRequestFields(): Array<{ name: string; required: boolean; description: string }> {
  return Object.entries(TaskRequest.shape).map(([name, field]) => ({
    name,
    required: !field.safeParse(undefined).success,
    description: field.description ?? '',
  }));
}

export const REJECTION_KINDS = ['invalid_request', 'unknown_class', 'invalid_input', 'off_policy'] as const;
export type RejectionKind = (typeof REJECTION_KINDS)[number];

export interface Rejection {
  kind: RejectionKind;
  problems: Problem[];
}

export interface IntakeOptions {
  now: Date;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** Ledger actor; default `intake`. */
  actor?: string;
  /** Size and depth caps (runwarden.yaml `intake:`). Default 256 KiB and 32 levels. */
  limits?: IntakeLimits;
}

/** Runbooks for intake: the loaded set, and the task classes of files that did not load. */
export type IntakeRunbooks = RunbookSet & { unavailable?: ReadonlyMap<string, UnavailableRunbook> };

function zodProblems(err: z.ZodError, prefix = ''): Problem[] {
  return err.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(request)', message: i.message }));
}

/**
 * Parses request JSON text; malformed JSON, or text over the size limit, is an error and nothing
 * is stored. The size is checked before parsing: a huge text costs no parse.
 */
export function parseRequestText(text: string, source = 'request', limits: IntakeLimits = DEFAULT_INTAKE_LIMITS): unknown {
  checkRequestTextSize(text, limits, source);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RunwardenError('REQUEST_INVALID', `${source} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Guards at intake see the input, the task and every step pending. An unevaluable guard denies. */
function guardProblems(runbook: CompiledRunbook, ctx: ExprContext): Problem[] {
  const problems: Problem[] = [];
  for (const g of runbook.policy.guards) {
    try {
      if (g.deny.test(ctx)) problems.push({ path: `policy.guards.${g.name}`, message: g.message });
    } catch (err) {
      problems.push({ path: `policy.guards.${g.name}`, message: `${g.message} (the guard could not be evaluated, so it denies: ${(err as Error).message})` });
    }
  }
  return problems;
}

/**
 * The value of the runbook's `policy.concurrency.key` for this task, as text (a string as it is,
 * anything else as JSON). A key that cannot be evaluated, or evaluates to null, is a problem of
 * the request: the task could not be placed under its limit.
 */
function concurrencyKeyOf(runbook: CompiledRunbook, ctx: ExprContext): { value: { key: string; limit: number } | null } | { problem: Problem } {
  const c = runbook.policy.concurrency;
  if (!c) return { value: null };
  let v: unknown;
  try {
    v = c.key.evaluate(ctx);
  } catch (err) {
    return { problem: { path: 'policy.concurrency.key', message: `the concurrency key ${c.key.source} could not be evaluated for this input: ${(err as Error).message}` } };
  }
  if (v === null || v === undefined || v === '') return { problem: { path: 'policy.concurrency.key', message: `the concurrency key ${c.key.source} is empty for this input` } };
  return { value: { key: typeof v === 'string' ? v : JSON.stringify(v), limit: c.limit } };
}

/** What the request would store, in the columns an existing task is compared on. */
type Comparable = Pick<NewTask, 'taskClass' | 'requestedBy' | 'input' | 'priority'>;

/** JSON with object keys sorted: two values are the same request part when these are equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The input paths whose values differ (a few, by name only: a value may be sensitive). */
function inputDifferences(a: Record<string, unknown>, b: Record<string, unknown>, prefix = 'input', out: string[] = []): string[] {
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (out.length >= 5) break;
    const [x, y] = [a[k], b[k]];
    if (canonical(x) === canonical(y)) continue;
    const both = x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y);
    if (both) inputDifferences(x as Record<string, unknown>, y as Record<string, unknown>, `${prefix}.${k}`, out);
    else out.push(`${prefix}.${k}`);
  }
  return out;
}

/** The fields in which `next` differs from the task `existing` was created from. */
export function requestDifferences(existing: TaskRow, next: Comparable): string[] {
  const out: string[] = [];
  if (existing.taskClass !== next.taskClass) out.push('taskClass');
  if (existing.requestedBy !== next.requestedBy) out.push('requestedBy');
  if (existing.priority !== next.priority) out.push('priority');
  if (canonical(existing.input) !== canonical(next.input)) out.push(...inputDifferences(existing.input, next.input));
  return out;
}

/**
 * The existing task when `next` is the same request, or a conflict naming what differs. Values
 * are not quoted (an input may be sensitive), except the task classes, which are no secret.
 */
function sameRequestOrConflict(existing: TaskRow, next: Comparable): { task: TaskRow; created: false } {
  const differs = requestDifferences(existing, next);
  if (!differs.length) return { task: existing, created: false };
  const classes = differs.includes('taskClass') ? ` (it is ${existing.taskClass}, this request is ${next.taskClass})` : '';
  const rejected = existing.state === 'rejected' ? '; that task was rejected, so a corrected request needs a new externalRef' : '';
  throw new RunwardenError(
    'EXTERNAL_REF_CONFLICT',
    `externalRef ${existing.externalRef} already names task ${existing.id} (${existing.state}), created from a different request: ${differs.join(', ')} differ${differs.length === 1 ? 's' : ''}${classes}. ` +
      `The same request again returns that task; a different one needs its own externalRef${rejected}`,
    { details: { taskId: existing.id, state: existing.state, externalRef: existing.externalRef, differs } },
  );
}

/** A request read far enough to look for the task it may repeat (no runbook needed yet). */
export interface RequestParts {
  request: unknown;
  parsed: ReturnType<typeof TaskRequest.safeParse>;
  comparable: Comparable;
  externalRef: string | null;
}

/** Checks the limits and reads the parts a repeat is compared on. Throws REQUEST_TOO_LARGE. */
export function requestParts(request: unknown, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS): RequestParts {
  checkRequestLimits(request, limits);
  const parsed = TaskRequest.safeParse(request);
  const raw = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  const comparable: Comparable = {
    taskClass: parsed.success ? parsed.data.taskClass : (str(raw.taskClass) ?? '(none)'),
    requestedBy: parsed.success ? (parsed.data.requestedBy ?? null) : str(raw.requestedBy),
    input: parsed.success ? parsed.data.input : typeof raw.input === 'object' && raw.input !== null && !Array.isArray(raw.input) ? (raw.input as Record<string, unknown>) : {},
    priority: parsed.success ? parsed.data.priority : 0,
  };
  const externalRef = parsed.success ? (parsed.data.externalRef ?? null) : str(raw.externalRef);
  return { request, parsed, comparable, externalRef };
}

/** The existing task when `parts` repeats it; EXTERNAL_REF_CONFLICT when it differs. */
export function repeatOf(existing: TaskRow, parts: RequestParts): { task: TaskRow; created: false; rejection?: Rejection } {
  return withRejection(sameRequestOrConflict(existing, parts.comparable)) as { task: TaskRow; created: false; rejection?: Rejection };
}

/** What intake decided for a request that repeats nothing: the row to insert, and the runbook version it starts on. */
export interface PreparedTask {
  task: NewTask;
  accepted?: CompiledRunbook;
  rejection?: Rejection;
}

/**
 * Decides a new request without the database: `queued` with its steps, or `rejected` with every
 * reason. Throws RUNBOOK_INVALID for a class whose runbook does not load. Pure: bulk intake
 * decides a batch, then stores it in one statement.
 */
export function prepareTask(runbooks: IntakeRunbooks, parts: RequestParts, opts: Pick<IntakeOptions, 'now' | 'env' | 'secrets' | 'actor'>): PreparedTask {
  const actor = opts.actor ?? 'intake';
  const id = newId('tsk');
  const { parsed, comparable, externalRef } = parts;
  let rejection: Rejection | undefined;
  let runbook: CompiledRunbook | undefined;
  let req: TaskRequest | undefined;
  let concurrency: { key: string; limit: number } | null = null;
  if (!parsed.success) {
    rejection = { kind: 'invalid_request', problems: zodProblems(parsed.error) };
  } else {
    req = parsed.data;
    runbook = runbooks.byTaskClass.get(req.taskClass);
    const broken = runbook ? undefined : runbooks.unavailable?.get(req.taskClass);
    if (broken) {
      const which = broken.id ? `runbook ${broken.id} (${broken.file})` : `runbook file ${broken.file}`;
      throw new RunwardenError(
        'RUNBOOK_INVALID',
        `task class ${req.taskClass} is not available: its ${which} has ${broken.problems.length} problem(s); fix it (runwarden validate) and send the request again`,
        { problems: broken.problems, details: { taskClass: req.taskClass, file: broken.file } },
      );
    }
    if (!runbook) {
      const known = [...runbooks.byTaskClass.keys()].sort();
      rejection = { kind: 'unknown_class', problems: [{ path: 'taskClass', message: `no runbook handles task class ${req.taskClass}; known classes: ${known.join(', ') || 'none'}` }] };
    } else {
      const inputProblems = runbook.validateInput(req.input);
      if (inputProblems.length) {
        rejection = { kind: 'invalid_input', problems: inputProblems };
      } else {
        const ctx: ExprContext = {
          input: req.input,
          task: { id, externalRef: req.externalRef ?? null, taskClass: req.taskClass, attempt: 0, requestedBy: req.requestedBy ?? null },
          // Every step as pending, as the worker sees them before the first: a guard reads
          // `steps.<id>` the same way at intake and before each step.
          steps: Object.fromEntries(runbook.steps.map((s) => [s.id, { status: 'pending' as const }])),
          env: opts.env,
          secrets: opts.secrets,
        };
        const denied = guardProblems(runbook, ctx);
        if (denied.length) rejection = { kind: 'off_policy', problems: denied };
        else {
          const key = concurrencyKeyOf(runbook, ctx);
          if ('problem' in key) rejection = { kind: 'invalid_input', problems: [key.problem] };
          else concurrency = key.value;
        }
      }
    }
  }
  const steps: Record<string, StepRecord> = {};
  if (runbook && !rejection) for (const s of runbook.steps) steps[s.id] = { status: 'pending', attempts: 0, captures: {} };
  const accepted = runbook && !rejection ? runbook : undefined;
  // The plan's steps and which inputs are sensitive go into the ledger with the acceptance, so a
  // view shows the steps in order and masks the inputs without loading the runbooks (and still
  // does once the runbook is no longer loaded).
  const plan = accepted ? { steps: accepted.steps.map((s) => s.id), sensitiveInputs: [...accepted.sensitiveInputs] } : {};
  const task: NewTask = {
    id,
    externalRef,
    ...comparable,
    runbookId: runbook?.id ?? null,
    runbookVersion: runbook?.version ?? null,
    runbookHash: accepted?.hash ?? null,
    state: rejection ? 'rejected' : 'queued',
    steps,
    retryLimit: runbook && !rejection ? runbook.policy.retryBudget : 0,
    deadlineAt: runbook && !rejection ? new Date(opts.now.getTime() + runbook.policy.deadlineMs) : null,
    rejection: rejection ?? null,
    awaitingRole: accepted ? firstRoleOf(accepted) : null,
    concurrency: accepted ? concurrency : null,
    event: rejection
      ? { type: 'intake.rejected', actor, data: { kind: rejection.kind, problems: rejection.problems } }
      : { type: 'intake.accepted', actor, data: { runbook: runbook!.id, version: runbook!.version, taskClass: comparable.taskClass, ...plan } },
  };
  return { task, ...(accepted ? { accepted } : {}), ...(rejection ? { rejection } : {}) };
}

/** Stores the runbook version a task starts on (before the task: it runs on it to the end). */
export async function saveStartingVersion(db: Db, accepted: CompiledRunbook, now: Date): Promise<void> {
  await saveRunbookVersion(db, { hash: accepted.hash, runbookId: accepted.id, version: accepted.version, file: accepted.file, source: accepted.source }, now);
}

/**
 * Takes one task request: refuses it before anything is stored when it is over the limits, when
 * its externalRef names a task made from a different request, or when its class's runbook does
 * not load; otherwise stores it `queued` or `rejected` (see the module comment). A repeated
 * request returns the existing task with `created: false`.
 */
export async function submitTask(db: Db, runbooks: IntakeRunbooks, request: unknown, opts: IntakeOptions): Promise<{ task: TaskRow; created: boolean; rejection?: Rejection }> {
  const parts = requestParts(request, opts.limits ?? DEFAULT_INTAKE_LIMITS);
  // A repeat is answered from the task it repeats, whatever the runbooks look like now.
  const prior = parts.externalRef ? await taskByExternalRef(db, parts.externalRef) : undefined;
  if (prior) return repeatOf(prior, parts);
  const prepared = prepareTask(runbooks, parts, opts);
  if (prepared.accepted) await saveStartingVersion(db, prepared.accepted, opts.now);
  // The insert carries its NOTIFY (one round trip); a rejected task wakes nobody.
  const result = await insertTask(db, prepared.task, opts.now, prepared.rejection ? {} : { notify: WAKE_CHANNEL });
  // Another request with this ref won the insert meanwhile: the same rule as a repeat.
  if (!result.created) return repeatOf(result.task, parts);
  return withRejection(result);
}

function withRejection(r: { task: TaskRow; created: boolean }): { task: TaskRow; created: boolean; rejection?: Rejection } {
  return r.task.state === 'rejected' ? { ...r, rejection: r.task.rejection as Rejection } : r;
}

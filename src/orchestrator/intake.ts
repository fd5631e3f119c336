/**
 * Intake: a task request becomes a `queued` task, or a `rejected` one stored with every reason
 * (unknown class, invalid input with JSON paths, a guard's denial). Nothing is dropped silently
 * and nothing runs for a rejected request.
 */
import { z } from 'zod';
import { RunwardenError, type Problem } from '../errors.js';
import { newId } from '../ids.js';
import type { CompiledRunbook, ExprContext, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { insertTask } from '../store/intake.js';
import { saveRunbookVersion } from '../store/runbook-versions.js';
import type { StepRecord, TaskRow } from '../store/tasks.js';
import { WAKE_CHANNEL } from './wake.js';

export const TaskRequest = z
  .strictObject({
    taskClass: z.string().min(1).describe('the task class a runbook lists under taskClasses'),
    externalRef: z.string().min(1).max(200).optional().describe('the ticket or work order; a second request with the same ref returns the existing task'),
    requestedBy: z.string().min(1).max(200).optional().describe('who asked: a queue, a person, a scheduler'),
    input: z.record(z.string(), z.unknown()).default({}).describe("the task's parameters, checked against the runbook's input schema"),
    priority: z.int().min(-1000).max(1000).default(0).describe('higher runs first; default 0'),
  })
  .describe('A task request (interfaces.md, "Task request")');
export type TaskRequest = z.infer<typeof TaskRequest>;

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
}

function zodProblems(err: z.ZodError, prefix = ''): Problem[] {
  return err.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(request)', message: i.message }));
}

/** Parses request JSON text; malformed JSON is an error and nothing is stored. */
export function parseRequestText(text: string, source = 'request'): unknown {
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

export async function submitTask(db: Db, runbooks: RunbookSet, request: unknown, opts: IntakeOptions): Promise<{ task: TaskRow; created: boolean; rejection?: Rejection }> {
  const actor = opts.actor ?? 'intake';
  const id = newId('tsk');
  const parsed = TaskRequest.safeParse(request);
  const raw = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  let rejection: Rejection | undefined;
  let runbook: CompiledRunbook | undefined;
  let req: TaskRequest | undefined;
  if (!parsed.success) {
    rejection = { kind: 'invalid_request', problems: zodProblems(parsed.error) };
  } else {
    req = parsed.data;
    runbook = runbooks.byTaskClass.get(req.taskClass);
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
      }
    }
  }
  const taskClass = req?.taskClass ?? str(raw.taskClass) ?? '(none)';
  const steps: Record<string, StepRecord> = {};
  if (runbook && !rejection) for (const s of runbook.steps) steps[s.id] = { status: 'pending', attempts: 0, captures: {} };
  const input = req?.input ?? (typeof raw.input === 'object' && raw.input !== null && !Array.isArray(raw.input) ? (raw.input as Record<string, unknown>) : {});
  // The version the task starts with is stored first: the task runs on it to the end.
  const accepted = runbook && !rejection ? runbook : undefined;
  if (accepted) await saveRunbookVersion(db, { hash: accepted.hash, runbookId: accepted.id, version: accepted.version, file: accepted.file, source: accepted.source }, opts.now);
  const result = await insertTask(
    db,
    {
      id,
      externalRef: req?.externalRef ?? str(raw.externalRef),
      taskClass,
      runbookId: runbook?.id ?? null,
      runbookVersion: runbook?.version ?? null,
      runbookHash: accepted?.hash ?? null,
      requestedBy: req?.requestedBy ?? str(raw.requestedBy),
      input,
      priority: req?.priority ?? 0,
      state: rejection ? 'rejected' : 'queued',
      steps,
      retryLimit: runbook && !rejection ? runbook.policy.retryBudget : 0,
      deadlineAt: runbook && !rejection ? new Date(opts.now.getTime() + runbook.policy.deadlineMs) : null,
      rejection: rejection ?? null,
      event: rejection
        ? { type: 'intake.rejected', actor, data: { kind: rejection.kind, problems: rejection.problems } }
        : { type: 'intake.accepted', actor, data: { runbook: runbook!.id, version: runbook!.version, taskClass } },
    },
    opts.now,
  );
  if (result.created && !rejection) await db.notify(WAKE_CHANNEL, id).catch(() => undefined);
  const storedRejection = result.task.state === 'rejected' ? (result.task.rejection as Rejection) : undefined;
  return { ...result, ...(storedRejection ? { rejection: storedRejection } : {}) };
}

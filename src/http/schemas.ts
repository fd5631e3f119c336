/**
 * The API's request and response bodies as zod schemas: validated at the boundary, described in
 * `GET /v1/openapi.json`, and shared with the CLI (the task request, the task document and the
 * packet are the ones `submit`, `show` and `packet` use; the operator-action body is the one the
 * action commands build from their flags).
 */
import { z } from 'zod';
import type { Problem } from '../errors.js';
import { PacketSchema } from '../escalation/packet-schema.js';
import { TaskDocumentSchema } from '../lifecycle/task-schema.js';
import { ERROR_CODES } from '../errors.js';
import { OPERATOR_ACTIONS, TASK_STATES, type OperatorAction } from '../lifecycle/vocabulary.js';
import { TaskRequest } from '../orchestrator/intake.js';

export { PacketSchema, TaskDocumentSchema, TaskRequest };

/** Every error the API answers with: `{ error: { code, message, retryable, problems? } }`. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]]).describe('a stable code (docs/errors.md)'),
      message: z.string().describe('what was wrong, what is allowed, what was received'),
      retryable: z.boolean().describe('whether sending the same request again can help'),
      problems: z
        .array(z.object({ path: z.string().describe('JSON path of the offending value'), message: z.string() }).loose())
        .optional()
        .describe('every problem found, each with its JSON path'),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .describe('an error');

/** `POST /v1/tasks`: the task document, and whether this request created it. */
export const TaskCreated = TaskDocumentSchema.extend({
  created: z.boolean().describe('false when an earlier request with the same externalRef made the task'),
}).describe('the task the request made (or the existing one for its externalRef)');

/** One line of a task list (`runwarden tasks --json`). */
export const TaskSummarySchema = TaskDocumentSchema.pick({
  id: true,
  externalRef: true,
  taskClass: true,
  runbook: true,
  state: true,
  currentStep: true,
  priority: true,
  retryBudget: true,
  createdAt: true,
  updatedAt: true,
}).describe('a task as lists show it');

/** Default and largest page of a list. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

const Iso = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-12-01T08:00:00Z' });

/** `GET /v1/tasks` query: filters and the page. Several states are comma-separated. */
export const TaskListQuery = z
  .strictObject({
    state: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(z.enum(TASK_STATES)).min(1))
      .optional()
      .describe(`only tasks in these states, comma-separated (${TASK_STATES.join(', ')})`),
    runbook: z.string().min(1).optional().describe('only tasks of this runbook id'),
    taskClass: z.string().min(1).optional().describe('only tasks of this task class'),
    createdAfter: Iso.optional().describe('only tasks created at or after this time'),
    createdBefore: Iso.optional().describe('only tasks created before this time'),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE).describe(`tasks per page, 1 to ${MAX_PAGE}; default ${DEFAULT_PAGE}`),
    cursor: z.string().min(1).optional().describe('nextCursor of the previous page'),
  })
  .describe('filters and paging of the task list');
export type TaskListQuery = z.infer<typeof TaskListQuery>;

export const TaskPage = z
  .object({
    items: z.array(TaskSummarySchema).describe('newest first'),
    nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
  })
  .describe('a page of tasks');

const Reason = z.string().trim().min(1, 'why is required: the reason is recorded in the ledger').max(2000);

/** The options an operator action takes beyond the reason, as the CLI flags name them. */
const ACTION_OPTIONS = {
  resume: {
    from: z.string().min(1).optional().describe('restart from this earlier step'),
    resetBudget: z.boolean().optional().describe('give the task a fresh retry budget'),
    force: z.boolean().optional().describe('resume a failed task (resets the retry budget)'),
    yes: z.boolean().optional().describe('confirm re-running steps that changed something'),
    dryRun: z.boolean().optional().describe('show what would run again; change nothing'),
    upgradeRunbook: z.boolean().optional().describe('move the task to the runbook version loaded now'),
  },
  retry: { yes: z.boolean().optional().describe('confirm running a once step that has no probe again') },
  skip: { capture: z.record(z.string(), z.unknown()).optional().describe('values the step would have captured') },
  complete: { partial: z.boolean().optional().describe('close as partially_completed') },
} as const satisfies Partial<Record<OperatorAction, Record<string, z.ZodType>>>;

/**
 * The body of `POST /v1/tasks/:id/actions/:action`: the reason and the action's own options.
 * There is no operator field: the operator is who the bearer token names.
 */
export function actionBody(action: OperatorAction) {
  const extra = (ACTION_OPTIONS as Partial<Record<OperatorAction, Record<string, z.ZodType>>>)[action] ?? {};
  return z.strictObject({ reason: Reason.describe('why (recorded in the ledger)'), ...extra }).describe(`the ${action} action`);
}
export const ACTION_BODIES = Object.fromEntries(OPERATOR_ACTIONS.map((a) => [a, actionBody(a)])) as Record<OperatorAction, ReturnType<typeof actionBody>>;

export const ActionResultBody = z
  .object({
    id: z.string(),
    state: z.enum(TASK_STATES),
    plan: z.object({ from: z.string(), rerun: z.array(z.string()), changed: z.array(z.string()) }).optional(),
    pending: z.boolean().optional().describe('cancel of a task a worker holds: it stops at the next checkpoint'),
    dryRun: z.boolean().optional(),
    runbookUpgrade: z.unknown().optional(),
  })
  .describe('the task after the action (as the CLI prints it with --json)');

/** `POST /v1/callbacks/:token`: any JSON value, handed to the waiting step as its data. */
export const CallbackBody = z.unknown().describe('the callback data the waiting step reads (any JSON; at most 64 KiB)');
export const CallbackResult = z.object({ id: z.string(), state: z.enum(TASK_STATES) }).describe('the task the callback woke');

export const Health = z.object({ status: z.literal('ok') }).describe('the process is up');
export const Ready = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    database: z.object({ kind: z.enum(['pglite', 'postgres']), reachable: z.boolean(), error: z.string().optional() }),
  })
  .describe('whether the database answers');

/** Problems of a zod error, each with the JSON path of its value (prefixed by `where`). */
export function problemsOf(err: z.ZodError, where = 'body'): Problem[] {
  return err.issues.flatMap((i) => {
    const at = i.path.map(String);
    // An unknown field is a problem of that field, said by name.
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: [...at, k].join('.'), message: `unknown field "${k}"` }));
    return [{ path: at.join('.') || `(${where})`, message: i.message }];
  });
}

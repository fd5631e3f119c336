/**
 * The task document as `runwarden show --json` (and `submit --json`) prints it: the fields
 * interfaces.md fixes (`id`, `externalRef`, `taskClass`, `runbook`, `state`, `currentStep`,
 * `retryBudget`, `steps`, `events`) and the ones runwarden adds. Published by
 * `runwarden schema task` so consumers of the JSON can validate what they read.
 */
import { z } from 'zod';
import { EVENT_TYPES, ESCALATION_REASONS, FAILURE_CLASSES, STEP_STATUSES, TASK_STATES, WORK_ROLES } from './vocabulary.js';

const iso = z.string().describe('an ISO 8601 timestamp (UTC)');

export const TaskDocumentSchema = z
  .object({
    id: z.string().describe('the task id, `tsk_` and 20 characters'),
    externalRef: z.string().nullable().describe('the ticket or work order it came from; unique when set'),
    taskClass: z.string().describe('the task class it was submitted as'),
    runbook: z
      .object({ id: z.string(), version: z.int(), hash: z.string().nullable().describe('SHA-256 of the version\'s source: the task runs on this version to the end (null: accepted before versions were kept)') })
      .nullable()
      .describe('the runbook version the task runs on (the one it was accepted under, unless an operator moved it with resume --upgrade-runbook); null when rejected before one was found'),
    state: z.enum(TASK_STATES).describe('where the task is in its lifecycle (lifecycle.md)'),
    currentStep: z.string().nullable().describe('the step automation is on; null before the first and after the last'),
    priority: z.int().describe('higher runs first'),
    retryBudget: z.object({ used: z.int(), limit: z.int() }).describe('retries used across all steps, and the runbook\'s retryBudget'),
    createdAt: iso,
    updatedAt: iso,
    requestedBy: z.string().nullable(),
    input: z.record(z.string(), z.unknown()).describe('the task\'s input as submitted'),
    deadlineAt: iso.nullable().describe('completed or escalated by then'),
    nextAttemptAt: iso.nullable().describe('when a scheduled retry or a wait\'s timeout falls due'),
    leaseOwner: z.string().nullable().describe('the worker holding the task now'),
    awaitingRole: z.enum(WORK_ROLES).nullable().optional().describe('the role whose work comes next: only a worker serving it takes the task up; null: any worker'),
    waitingFor: z
      .object({
        concurrencyKey: z.string().describe('the value of the runbook\'s policy.concurrency.key for this task'),
        limit: z.int(),
        holders: z.array(z.object({ id: z.string(), state: z.enum(TASK_STATES) })).describe('the tasks holding the key\'s slots now'),
      })
      .nullable()
      .optional()
      .describe('a queued task held back by its concurrency key: what it waits for'),
    cancelRequested: z.boolean().describe('an operator cancelled while a worker held it; it stops at the next checkpoint'),
    rejection: z.unknown().describe('intake\'s `{ kind, problems }` when the task was rejected, else null'),
    escalation: z
      .object({
        kind: z.enum(ESCALATION_REASONS),
        failureClass: z.enum(FAILURE_CLASSES).nullable(),
        step: z.string().nullable(),
        message: z.string(),
        at: iso,
      })
      .nullable()
      .describe('why automation last stopped (or asked for a person)'),
    callback: z
      .object({ token: z.string(), waiting: z.boolean(), timeoutAt: iso.nullable() })
      .nullable()
      .describe('the callback credential of a task with a wait step, while it can be used'),
    steps: z
      .array(
        z.object({
          id: z.string(),
          status: z.enum(STEP_STATUSES),
          attempts: z.int().describe('action attempts so far'),
          captures: z.record(z.string(), z.unknown()).describe('what the step captured'),
          startedAt: iso.nullable(),
          finishedAt: iso.nullable(),
          note: z.string().nullable(),
        }),
      )
      .describe('every step, in runbook order'),
    events: z
      .array(
        z.object({
          seq: z.int().describe('1, 2, ... in order'),
          at: iso,
          type: z.enum(EVENT_TYPES),
          step: z.string().nullable(),
          actor: z.string().describe('intake, worker:<id>, operator:<name>, callback, ...'),
          data: z.record(z.string(), z.unknown()),
        }),
      )
      .describe('the ledger, oldest first'),
  })
  .describe('A task as runwarden show --json prints it');

export type TaskDocument = z.infer<typeof TaskDocumentSchema>;

/** The JSON Schema (draft-07) of the task document. */
export function taskJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(TaskDocumentSchema, { target: 'draft-7' }) as Record<string, unknown>;
}

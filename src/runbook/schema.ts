/**
 * The zod schema of a runbook file (runbook-format.md): its structure, every field with a
 * description stating its default. Structure only: cross-field rules (goto targets, `repeat` on
 * steps that change state, CEL types, allowExec, ...) are checked in `checks.ts`, and defaults
 * are filled by `compile.ts`, so this schema says what was written, not what was meant.
 */
import { z } from 'zod';
import { FAILURE_CLASSES, REPEAT_MODES } from '../lifecycle/vocabulary.js';
import { CaptureName, CelExpr, Duration, KebabId, ResultCelExpr, TemplateString } from './action-schema.js';

/** Escalation severities, most urgent first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a scheduler does with fires missed while nothing was running. */
export const MISSED_POLICIES = ['skip', 'run-once'] as const;

/** What a fire does while the previous scheduled run is still going. */
export const OVERLAP_POLICIES = ['skip', 'allow', 'queue'] as const;

/** JSON Schema types the input schema may use. */
export const INPUT_TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'] as const;

/** `onFailure`: escalate | rollback | continue | goto:<step id>. */
export const ON_FAILURE_PATTERN = /^(escalate|rollback|continue|goto:.+)$/;

/** Task classes: dotted lower-case words, `service.restart`. */
export const TASK_CLASS_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;

/** The input JSON Schema subset: what intake validation and the docs need, nothing exotic. */
export interface InputSchemaNode {
  type?: (typeof INPUT_TYPES)[number] | Array<(typeof INPUT_TYPES)[number]>;
  title?: string;
  description?: string;
  properties?: Record<string, InputSchemaNode>;
  required?: string[];
  additionalProperties?: boolean | InputSchemaNode;
  items?: InputSchemaNode;
  enum?: Array<string | number | boolean | null>;
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  default?: unknown;
  examples?: unknown[];
  sensitive?: boolean;
}

const count = z.number().int().min(0);

export const InputSchema: z.ZodType<InputSchemaNode> = z.lazy(() =>
  z
    .strictObject({
      type: z.union([z.enum(INPUT_TYPES), z.array(z.enum(INPUT_TYPES)).min(1)]).optional().describe('JSON type, or a list of types.'),
      title: z.string().optional().describe('Short name, for docs and forms.'),
      description: z.string().optional().describe('What the value means, for docs and forms.'),
      properties: z.record(z.string(), InputSchema).optional().describe('Object properties by name.'),
      required: z.array(z.string()).optional().describe('Properties that must be present.'),
      additionalProperties: z.union([z.boolean(), InputSchema]).optional().describe('Whether (or how) properties not named are allowed. Default: allowed, as in JSON Schema.'),
      items: InputSchema.optional().describe('Schema of every array element.'),
      enum: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1).optional().describe('The allowed values.'),
      const: z.unknown().optional().describe('The only allowed value.'),
      pattern: z.string().optional().describe('Regular expression (ECMAScript, unicode) a string must match.'),
      format: z.string().optional().describe('A named format: email, uri, date-time, date, uuid, hostname, ipv4, ...'),
      minLength: count.optional().describe('Minimum string length.'),
      maxLength: count.optional().describe('Maximum string length.'),
      minimum: z.number().optional().describe('Minimum number, inclusive.'),
      maximum: z.number().optional().describe('Maximum number, inclusive.'),
      exclusiveMinimum: z.number().optional().describe('Minimum number, exclusive.'),
      exclusiveMaximum: z.number().optional().describe('Maximum number, exclusive.'),
      multipleOf: z.number().positive().optional().describe('The number must be a multiple of this.'),
      minItems: count.optional().describe('Minimum array length.'),
      maxItems: count.optional().describe('Maximum array length.'),
      uniqueItems: z.boolean().optional().describe('Array elements must differ.'),
      default: z.unknown().optional().describe('Documentation only: intake does not fill defaults.'),
      examples: z.array(z.unknown()).optional().describe('Example values, for docs.'),
      sensitive: z.boolean().optional().describe('Masked wherever the task is shown: escalation packets, `show`, the console. Default false.'),
    })
    .describe('A JSON Schema (subset) for a value of the task input.'),
).meta({ id: 'InputSchema' });

export const RetryPolicySchema = z
  .strictObject({
    attempts: z.number().int().min(1).max(100).describe('Tries in all, including the first; 1 means no retry.'),
    backoff: z.enum(['fixed', 'exponential']).optional().describe('`fixed`: every retry waits `delay`; `exponential`: the wait doubles each retry, up to `maxDelay`. Default `fixed`.'),
    delay: Duration.optional().describe('Wait before the first retry. Default 1s.'),
    maxDelay: Duration.optional().describe('Longest wait between tries. Default 30s, or `delay` if that is longer.'),
    jitter: z.boolean().optional().describe('Randomise each wait within its upper half, so many tasks do not retry in step. Default false.'),
    refresh: z
      .union([z.boolean(), z.array(KebabId)])
      .optional()
      .describe('Before retrying, re-run the earlier `safe` steps (`true`) or those named, so the retry does not replay stale input. Default false.'),
    confirm: z
      .boolean()
      .optional()
      .describe('A success that needed a retry of this class waits in `awaiting_approval` (reason `confirm_after_retry`, with the failures and the success as evidence) until a person approves or denies. Default false.'),
  })
  .describe('How a failure class is retried. A retry that would start after the deadline, or exceed the retry budget, escalates instead.')
  .meta({ id: 'RetryPolicy' });

export const RetrySchema = z
  .strictObject(Object.fromEntries(FAILURE_CLASSES.map((c) => [c, RetryPolicySchema.optional()])) as Record<(typeof FAILURE_CLASSES)[number], z.ZodOptional<typeof RetryPolicySchema>>)
  .describe(
    'Retry policy per failure class. An entry replaces the default for its class entirely. Built-in defaults: transient and timeout 3 attempts, exponential from 1s to 30s with jitter; dependency 2 attempts, fixed 30s, refresh true. A class with no policy is not retried.',
  );

const ActionName = z.string().min(1).describe('What the step does: `http`, `exec`, `wait`, `approve`, `decide`, `set`, or the name of a plugin action the deployment registers.');
const WithMap = z.record(z.string(), z.unknown()).describe("The action's parameters; their shape depends on `action`.");

export const VerifyCheckSchema = z
  .strictObject({
    id: KebabId.describe('Check id, unique within the step.'),
    action: ActionName,
    with: WithMap.optional(),
    expect: ResultCelExpr.describe('CEL condition over `result` that must hold for the check to pass.'),
    poll: z
      .strictObject({
        every: Duration.describe('Wait between tries.'),
        within: Duration.describe('Give up (failure class `verification`) when the check has not passed this long after the step.'),
      })
      .optional()
      .describe('Repeat the check until it passes. Default: the check runs once.'),
    timeout: Duration.optional().describe("Time limit of one try. Default: the system's timeout."),
  })
  .describe('An end-state check: the step is not done until it passes.');

export const ProbeSchema = z
  .strictObject({
    action: ActionName,
    with: WithMap.optional(),
    present: ResultCelExpr.optional().describe('CEL over `result`: true when the first try took effect; then `capture` is taken from the probe and the step succeeds. Required.'),
    absent: ResultCelExpr.optional().describe('CEL over `result`: true when the first try did not take effect, so it is safe to try again. Required.'),
    capture: z.record(CaptureName, ResultCelExpr).optional().describe('Values to capture from the probe result when `present` holds, as `capture` would from the action.'),
    timeout: Duration.optional().describe("Time limit of the probe. Default: the system's timeout."),
  })
  .describe('For `repeat: once` steps: before any replay, checks whether the first try took effect. Matching neither `present` nor `absent` escalates as `ambiguous`.');

export const CompensateSchema = z
  .strictObject({
    action: ActionName,
    with: WithMap.optional(),
    repeat: z.enum(REPEAT_MODES).optional().describe('Repeat safety of the undo action; required when it changes state, as for steps.'),
    timeout: Duration.optional().describe("Time limit of the undo action. Default: the system's timeout."),
  })
  .describe('How to undo this step when a later step fails with `onFailure: rollback`. Compensations run in reverse step order.');

export const StepSchema = z
  .strictObject({
    id: KebabId.describe('Step id: unique in the runbook, kebab-case. Read in CEL as `steps.<id>` (or `steps[\'<id>\']`).'),
    title: z.string().optional().describe('Human title, shown in packets and the console. Default: the id.'),
    action: ActionName,
    with: WithMap.optional(),
    repeat: z
      .enum(REPEAT_MODES)
      .optional()
      .describe('`safe`: replay freely; `keyed`: replay with the same idempotency key; `once`: never replayed blindly, `probe` first. Required when the action changes state; default `safe` otherwise.'),
    timeout: Duration.optional().describe("Time limit of one try; a try that passes it fails as `timeout`. Default: the system's timeout (10s) for http, none otherwise."),
    when: CelExpr.optional().describe('Run the step only when this CEL condition holds; otherwise it is skipped. Default: always.'),
    retry: RetrySchema.optional().describe("Per-class overrides of the runbook's `retry` for this step."),
    classify: z
      .array(
        z.strictObject({
          when: ResultCelExpr.describe('CEL condition over `result`.'),
          as: z.enum(FAILURE_CLASSES).describe('Failure class of the attempt when `when` holds.'),
        }),
      )
      .optional()
      .describe('Failure classification rules: first match wins, before the defaults (5xx and connection errors transient, 4xx business, ...).'),
    capture: z.record(CaptureName, ResultCelExpr).optional().describe('Values to keep from the result, each a CEL expression over `result`; later steps read them as `steps.<id>.<name>`. A capture named `status` shadows the step status there.'),
    ids: z.array(CaptureName).optional().describe('Captured names that are ids in external systems, listed as side effects in escalation packets.'),
    verify: z.array(VerifyCheckSchema).optional().describe('End-state checks; the step is not done until all pass. A check that fails fails the step as `verification`.'),
    probe: ProbeSchema.optional(),
    compensate: CompensateSchema.optional(),
    approval: z
      .strictObject({
        route: z.string().min(1).optional().describe("Escalation route of the approvers. Default: the step's `route`, else the runbook's."),
        when: CelExpr.optional().describe('Ask only when this CEL condition holds. Default: always.'),
        prompt: z.string().optional().describe('What the approver is asked. Default: the step title.'),
      })
      .optional()
      .describe('Pause for a person before the step runs.'),
    onFailure: z
      .string()
      .regex(ON_FAILURE_PATTERN, { error: 'expected escalate, rollback, continue or goto:<step id>' })
      .optional()
      .describe('After the step has failed for good: `escalate` (default), `rollback` (run the compensations of the steps done so far), `continue` (go on; the task ends partially completed), or `goto:<later step id>`.'),
    critical: z.boolean().optional().describe('false: a failure after retries leaves the task partially completed instead of escalating. Default true.'),
    next: z
      .array(
        z.strictObject({
          when: CelExpr.optional().describe('CEL condition. Default: always.'),
          goto: z.string().min(1).describe('A later step id, or `end` to finish the task.'),
        }),
      )
      .optional()
      .describe('Where to go after the step: first match wins. Default: the next step in order. Runbooks have no loops.'),
    route: z.string().min(1).optional().describe("Escalation route for this step's escalations. Default: the runbook's."),
    fallback: z.string().min(1).optional().describe('`decide` steps only: without a configured model, `escalate` or an option id. Default `escalate`.'),
  })
  .describe('One step of the runbook.')
  .meta({ id: 'Step' });

export const SystemSchema = z
  .strictObject({
    baseUrl: TemplateString.describe('Base URL (template), e.g. `${env.OPS_API_URL}`.'),
    headers: z.record(z.string(), TemplateString).optional().describe('Headers sent on every call (templates). A header reading `secrets` is masked wherever it would be recorded.'),
    timeout: Duration.optional().describe('Default time limit of calls to this system. Default 10s.'),
  })
  .describe('An external system the steps call by name.');

export const PolicySchema = z
  .strictObject({
    deadline: Duration.optional().describe('The task is completed or escalated by then, never left running. Default 1h.'),
    retryBudget: z.number().int().min(0).optional().describe('Retries across all steps of one task. Default 10.'),
    guards: z
      .array(
        z.strictObject({
          name: KebabId.describe('Guard name, unique in the runbook.'),
          deny: CelExpr.describe('CEL condition: when it holds the task is refused (at intake) or stopped (before a step) as `off_policy`.'),
          message: z.string().optional().describe('Why, for the requester and the packet. Default: `guard <name> denied the task`.'),
        }),
      )
      .optional()
      .describe('Off-policy conditions, checked at intake and before every step.'),
    allowExec: z.array(z.string().min(1)).optional().describe('Programs `exec` steps may run; anything else is refused at load. Default: none.'),
    concurrency: z
      .strictObject({
        key: CelExpr.describe("CEL over `input` and `task`, evaluated at intake and stored with the task, e.g. `input.service`. Tasks of any runbook whose key has the same value share the limit."),
        limit: z.number().int().min(1).describe('How many tasks with one key value may run at once (`running`, `retry_scheduled`, `compensating`, `waiting_callback`).'),
      })
      .optional()
      .describe('At most `limit` tasks with the same key value run at once; the others wait in `queued`. Default: no limit.'),
  })
  .describe('Bounds of the delegation: time, retries, guards, programs.');

export const EscalationSchema = z
  .strictObject({
    route: z.string().min(1).optional().describe('Default escalation route. Default: `owner`.'),
    routes: z.record(z.string(), z.string().min(1)).optional().describe('Route overrides by escalation reason (`verification_failed`, ...) or failure class (`business`, ...).'),
    severity: z.enum(SEVERITIES).optional().describe('Severity of escalation packets. Default `high`.'),
    recommend: z.record(z.string(), z.string()).optional().describe('Owner-written next-action text for the packet, by escalation reason, failure class or step id.'),
    ackWithin: Duration.optional().describe('An escalated task no operator acted on within this window is escalated again to the next route of `then`, once per window. Default: never re-escalated.'),
    then: z.array(z.string().min(1)).optional().describe('The routes tried next, in order, one per `ackWithin` window; after the last it stops. Required with `ackWithin`.'),
  })
  .describe('Where escalations go and what they recommend.');

export const ScheduleSchema = z
  .strictObject({
    cron: z.string().min(1).describe('Cron expression (5 fields, or 6 with seconds), e.g. `*/15 * * * *`.'),
    timezone: z.string().min(1).optional().describe('IANA time zone the cron expression is read in. Default `UTC`.'),
    input: z.record(z.string(), z.unknown()).optional().describe('Input of the scheduled tasks; checked against `input` at load. Default `{}`.'),
    missed: z
      .enum(MISSED_POLICIES)
      .optional()
      .describe('Fires missed while no scheduler ran: `skip` them (default; the next run\'s ledger says how many, from when to when) or `run-once` (one run for the latest of them, at once). Never a burst.'),
    overlap: z
      .enum(OVERLAP_POLICIES)
      .optional()
      .describe('A fire while the previous scheduled run is still going: `skip` it (default), `allow` a second run, or `queue` it to start when the run ends (one waits at most; later fires are skipped). Runs waiting for a person (escalated, in handover) do not count as going.'),
    expectSuccessWithin: Duration.optional().describe('When no scheduled run has completed this long after a fire, one silent-failure packet goes to the escalation route, resolved when a run completes again. Default: not watched.'),
  })
  .describe('Also run the runbook on a timer.');

export const RunbookSchema = z
  .strictObject({
    runbook: KebabId.describe('Runbook id, unique across the runbooks folder, kebab-case.'),
    version: z.number().int().min(1).describe('Bumped by the owner on every change; tasks record the version they ran.'),
    title: z.string().min(1).describe('What the runbook does, in one line.'),
    owner: z.string().min(1).describe('Owning team; the default escalation route.'),
    taskClasses: z
      .array(z.string().regex(TASK_CLASS_PATTERN, { error: 'expected a dotted lower-case task class, like service.restart' }))
      .min(1)
      .describe('Task classes this runbook executes; each class maps to exactly one runbook.'),
    input: InputSchema.optional().describe("JSON Schema (subset) of the task's input, checked at intake. Must be `type: object`. Default: any object."),
    systems: z.record(z.string(), SystemSchema).optional().describe('External systems the steps call, by name.'),
    policy: PolicySchema.optional(),
    retry: RetrySchema.optional(),
    escalation: EscalationSchema.optional(),
    schedule: ScheduleSchema.optional(),
    steps: z.array(StepSchema).min(1).describe('The steps, run in order unless `next` or `onFailure` say otherwise.'),
  })
  .describe('A runwarden runbook (format v1): the steps that carry one class of task to a verified end.');

export type RunbookDoc = z.infer<typeof RunbookSchema>;
export type StepDoc = z.infer<typeof StepSchema>;
export type RetryPolicyDoc = z.infer<typeof RetryPolicySchema>;
export type RetryDoc = z.infer<typeof RetrySchema>;
export type ActionCallDoc = { action: string; with?: Record<string, unknown> | undefined };

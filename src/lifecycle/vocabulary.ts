/**
 * runwarden's closed vocabularies. Each is one `as const` tuple that feeds the TypeScript type,
 * the zod schema, the database check constraints and the docs, so a word can only be added in one
 * place. See ../shared/spec/lifecycle.md and runbook-format.md.
 */
import { z } from 'zod';

/** Task states (lifecycle.md, "Task states"). */
export const TASK_STATES = [
  'queued',
  'running',
  'retry_scheduled',
  'waiting_callback',
  'awaiting_approval',
  'compensating',
  'escalated',
  'in_handover',
  'completed',
  'partially_completed',
  'rolled_back',
  'cancelled',
  'failed',
  'rejected',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TaskState = z.enum(TASK_STATES);

/** States no transition leaves. `failed` is not among them: `resume --force` revives it. */
export const TERMINAL_STATES = [
  'completed',
  'partially_completed',
  'rolled_back',
  'cancelled',
  'rejected',
] as const satisfies readonly TaskState[];

/** States in which a worker holds the task under a lease and drives it. */
export const HELD_STATES = ['running', 'compensating'] as const satisfies readonly TaskState[];

/**
 * States automation still owns (a worker holds the task, or will take it up again by itself): a
 * cancel asked for while a worker holds the task stops it at the worker's next safe point.
 */
export const AUTOMATED_STATES = [
  'running',
  'compensating',
  'retry_scheduled',
  'waiting_callback',
  'awaiting_approval',
] as const satisfies readonly TaskState[];

/** The terminal states a worker's checkpoint can end a task in (`rejected` is only ever inserted). */
export const FINISHED_STATES = [
  'completed',
  'partially_completed',
  'rolled_back',
  'cancelled',
] as const satisfies readonly TaskState[];

/** States after which an open escalation packet has nothing left to ask of anyone. */
export const CLOSED_STATES = [...FINISHED_STATES, 'failed'] as const satisfies readonly TaskState[];

/** Step statuses (lifecycle.md, "Step statuses"). */
export const STEP_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'in_doubt',
  'skipped',
  'compensated',
  'compensation_failed',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
export const StepStatus = z.enum(STEP_STATUSES);

/** Statuses of a step that is not done: a task with one ends `partially_completed` at best. */
export const UNDONE_STEP_STATUSES = ['failed', 'in_doubt'] as const satisfies readonly StepStatus[];

/** Statuses of a step whose action ran (or may have): one that changes something may have changed it. */
export const ATTEMPTED_STEP_STATUSES = ['succeeded', 'in_doubt', 'failed'] as const satisfies readonly StepStatus[];

/** Failure classes: every failed attempt gets exactly one (runbook-format.md). */
export const FAILURE_CLASSES = [
  'transient',
  'timeout',
  'dependency',
  'business',
  'invalid_input',
  'permission',
  'verification',
  'ambiguous',
  'off_policy',
  'human_aborted',
  'internal',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];
export const FailureClass = z.enum(FAILURE_CLASSES);

/** Why automation stopped (escalation-packet.md, `reason.kind`). */
export const ESCALATION_REASONS = [
  'retries_exhausted',
  'non_retryable',
  'verification_failed',
  'ambiguous_state',
  'off_policy',
  'deadline_exceeded',
  'budget_exhausted',
  'approval_required',
  'callback_timeout',
  'compensation_failed',
  'partial_completion',
  'silent_failure',
  'confirm_after_retry',
] as const;
export type EscalationReason = (typeof ESCALATION_REASONS)[number];

/** The reasons that ask a person to approve or deny (`awaiting_approval`), not to take over. */
export const APPROVAL_REASONS = ['approval_required', 'confirm_after_retry'] as const satisfies readonly EscalationReason[];
export const EscalationReason = z.enum(ESCALATION_REASONS);

/** Operator actions (lifecycle.md, "Operator actions"). */
export const OPERATOR_ACTIONS = [
  'approve',
  'deny',
  'takeover',
  'resume',
  'retry',
  'skip',
  'rollback',
  'complete',
  'fail',
  'cancel',
] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];
export const OperatorAction = z.enum(OPERATOR_ACTIONS);

/**
 * Work roles (runbook-format.md, "Additions in v1.1"): who runs which attempt. `execution` runs
 * steps (actions, refreshes, compensations), `verification` runs `verify` checks and probes,
 * `escalation` writes packets and delivers them, `agent` makes model calls (`decide`). A worker
 * serves some of them (`work --roles`); a secret may be granted to some of them.
 */
export const WORK_ROLES = ['execution', 'verification', 'escalation', 'agent'] as const;
export type WorkRole = (typeof WORK_ROLES)[number];
export const WorkRole = z.enum(WORK_ROLES);

/** API token roles (interfaces.md). */
export const ROLES = ['intake', 'viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Repeat safety of a step that changes something (runbook-format.md, "Repeat safety"). */
export const REPEAT_MODES = ['safe', 'keyed', 'once'] as const;
export type RepeatMode = (typeof REPEAT_MODES)[number];

/** Built-in step actions. Anything else names a plugin registered by the deployment. */
export const BUILTIN_ACTIONS = ['http', 'exec', 'wait', 'approve', 'decide', 'set'] as const;
export type BuiltinAction = (typeof BUILTIN_ACTIONS)[number];

/** What a step does after its failure is final (after retries). `goto:<id>` is compiled apart. */
export const ON_FAILURE_MODES = ['escalate', 'rollback', 'continue', 'goto'] as const;
export type OnFailureMode = (typeof ON_FAILURE_MODES)[number];

/** The kinds of attempt the step-attempt table records. */
export const ATTEMPT_KINDS = ['action', 'probe', 'verify', 'compensate', 'refresh'] as const;
export type AttemptKind = (typeof ATTEMPT_KINDS)[number];

export const ATTEMPT_OUTCOMES = ['succeeded', 'failed', 'in_doubt'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * Ledger event types. The ledger is the record packets, reports and `show` are built from, so
 * every type a writer uses is named here.
 */
export const EVENT_TYPES = [
  'intake.accepted',
  'intake.rejected',
  'state.changed',
  'lease.acquired',
  'lease.released',
  'guard.checked',
  'step.started',
  'step.skipped',
  'step.succeeded',
  'step.failed',
  'attempt.started',
  'attempt.finished',
  'attempt.in_doubt',
  'probe.result',
  'verification.result',
  'retry.scheduled',
  'refresh.started',
  'compensation.started',
  'compensation.finished',
  'approval.requested',
  'approval.decided',
  'callback.waiting',
  'callback.received',
  'callback.timeout',
  'escalated',
  'agent.call',
  'agent.proposal',
  'packet.emitted',
  'packet.delivery',
  'operator.action',
  'schedule.fired',
  'escalation.reescalated',
  'audit.recorded',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EventType = z.enum(EVENT_TYPES);

/** Who wrote a ledger event: `intake`, `worker:<id>`, `operator:<name>`, `scheduler`, `callback`. */
export type Actor = string;

/** True when `value` is one of `set` (a closed set above), narrowing its type. */
export function isOneOf<T extends string>(set: readonly T[], value: string): value is T {
  return (set as readonly string[]).includes(value);
}

/**
 * The orchestrator's view of a task and the commands its decision function returns. The decision
 * (`decide.ts`) is pure; the driver (`driver.ts`) does the I/O and records every checkpoint.
 */
import type {
  AttemptKind,
  AttemptOutcome,
  EscalationReason,
  EventType,
  FailureClass,
  TaskState,
} from '../lifecycle/vocabulary.js';
import type { ActionSpec } from '../runbook/plan.js';
import type { RawOutcome } from './outcome.js';

/** A step's durable record (the `steps.<id>` CEL context: captures plus status): the store's. */
export type { StepRecord } from '../store/tasks.js';
import type { StepRecord } from '../store/tasks.js';

/** `next`: the current step was settled by hand (an operator's skip); move on from it. */
export type Phase = 'enter' | 'refresh' | 'probe' | 'action' | 'verify' | 'next';

/** The orchestrator's durable bookkeeping for the current step, kept in `tasks.cursor`. */
export interface Cursor {
  phase?: Phase;
  /** Failures of the current step per class (the retry policy's count). */
  failures?: Partial<Record<FailureClass, number>>;
  /** The verification in progress: which check, and when its poll window opened. */
  verify?: { index: number; startedAt: string; polls: number };
  /** Earlier safe steps still to re-run before the retry (`refresh`). */
  refresh?: string[];
  /** A `once` step whose effect may have happened: probe before any new attempt. */
  probeFirst?: boolean;
  /** Approval of the current step's gate or `approve` step. */
  approval?: { step: string; granted: boolean; by?: string; note?: string };
  /**
   * The task's callback credential, made at its first decision when the runbook has a `wait`
   * step, so earlier steps can hand it to the system that will call back (`task.callbackToken`).
   */
  callbackToken?: string;
  /** A `wait` step's callback: the token (shown to operators), the deadline, the data once it came. */
  callback?: { step: string; token: string; timeoutAt: string; data?: unknown; receivedAt?: string };
  /** The current step's idempotency key, kept so retries and crash recovery send the same one. */
  key?: string;
  /** Options a `decide` step offered (their `when` held). */
  offered?: string[];
  /** Model calls this task has started (all `decide` steps), against `DecideEnv.agentCallCap`. */
  agentCalls?: number;
  /** Steps still to compensate, newest first; the failures of the one in progress. */
  compensation?: { queue: string[]; failures: number };
  /** A step failed and the task went on: it can end `partially_completed` at best. */
  partial?: boolean;
  /** Last attempt number per `${kind}:${step}`. */
  counters?: Record<string, number>;
}

/** What the decision function reads of a task. The store's row satisfies it. */
export interface TaskView {
  id: string;
  externalRef: string | null;
  taskClass: string;
  requestedBy: string | null;
  input: Record<string, unknown>;
  state: TaskState;
  currentStep: string | null;
  steps: Record<string, StepRecord>;
  cursor: Cursor;
  retryUsed: number;
  retryLimit: number;
  deadlineAt: Date | null;
  cancelRequested: boolean;
}

/** An attempt the store has a start for and no outcome: in doubt after a crash. */
export interface OpenAttempt {
  step: string;
  kind: AttemptKind;
  attempt: number;
  idempotencyKey: string | null;
  startedAt: Date;
}

export interface EscalationInfo {
  kind: EscalationReason;
  failureClass: FailureClass | null;
  step: string | null;
  message: string;
  at: string;
}

export interface NewEvent {
  type: EventType;
  step?: string | null;
  data?: Record<string, unknown>;
}

export interface AttemptRef {
  step: string;
  kind: AttemptKind;
  attempt: number;
  idempotencyKey: string | null;
}

export interface AttemptFinish extends AttemptRef {
  outcome: AttemptOutcome;
  failureClass: FailureClass | null;
  error: string | null;
  durationMs: number;
  result: unknown;
}

/** One durable checkpoint: applied in one transaction with its ledger events. */
export interface Commit {
  to?: TaskState;
  patch: {
    currentStep?: string | null;
    steps?: Record<string, StepRecord>;
    cursor?: Cursor;
    retryUsed?: number;
    nextAttemptAt?: Date | null;
    callbackTokenHash?: string | null;
    escalation?: EscalationInfo | null;
  };
  events: NewEvent[];
  startAttempt?: AttemptRef;
  finishAttempts?: AttemptFinish[];
  /** Set when this commit stops automation: the escalation hook writes the packet with it. */
  escalation?: EscalationInfo;
}

export type Next =
  | { type: 'perform'; attempt: AttemptRef; spec: ActionSpec; timeoutMs?: number; check?: string }
  | { type: 'sleep'; ms: number }
  | { type: 'release' };

export interface Decision {
  commit?: Commit;
  next: Next;
}

/** What happened, fed to the decision function. */
export type OrchestratorEvent =
  | { kind: 'claimed'; openAttempts: OpenAttempt[] }
  | { kind: 'finished'; attempt: AttemptRef; outcome: RawOutcome; durationMs: number }
  | { kind: 'polled' };

/** Everything impure the decision needs, passed in. */
export interface DecideEnv {
  now: Date;
  random: () => number;
  newToken: () => string;
  hashToken: (token: string) => string;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** The worker is stopping: record what finished, start nothing new, hand the task back. */
  stopping?: boolean;
  /** Model calls one task may make in all (`RUNWARDEN_LLM_MAX_CALLS`). Default 10. */
  agentCallCap?: number;
}

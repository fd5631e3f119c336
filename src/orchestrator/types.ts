/**
 * The orchestrator's view of a task and the commands its decision function returns. The decision
 * (`decide.ts`) is pure; the driver (`driver.ts`) does the I/O and records every checkpoint. The
 * checkpoint, the attempt records, the ledger event and the escalation are the store's types.
 */
import type { AttemptKind, TaskState, WorkRole } from '../lifecycle/vocabulary.js';
import type { ActionSpec } from '../runbook/plan.js';
import type { AttemptRef, CheckpointWrite } from '../store/checkpoints.js';
import type { NewEvent } from '../store/events.js';
import type { StepRecord } from '../store/tasks.js';
import type { Cursor } from './cursor.js';
import type { RawOutcome } from './outcome.js';

export type { AttemptFinish, AttemptRef } from '../store/checkpoints.js';
export type { EscalationInfo, StepRecord } from '../store/tasks.js';
export type { Cursor, Phase, StepMemo } from './cursor.js';

/** A ledger event a decision writes; the driver adds the actor. */
export type DecisionEvent = Omit<NewEvent, 'actor'>;

/** What the decision function reads of a task (`taskViewOf` makes it from the stored row). */
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

/** One durable checkpoint: applied in one transaction with its ledger events. */
export type Commit = CheckpointWrite;

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
  /**
   * The roles this worker serves (`work --roles`): work of another role is not started, the task
   * is handed on (walk.ts `yieldsToRole`). Default: every role.
   */
  roles?: readonly WorkRole[];
}

/**
 * What a packet is built from: the stored task, its ledger and its attempts, typed by the fields
 * the builder reads, so the store's rows satisfy them and tests can write them by hand.
 */
import type { StepStatus, TaskState } from '../lifecycle/vocabulary.js';
import type { EscalationInfo } from '../store/tasks.js';

/** A time as the store returns it (Date) or as JSON carries it (ISO string). */
export type TimeLike = Date | string;

export interface PacketStepRecord {
  status: StepStatus;
  attempts: number;
  captures: Record<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
  note?: string;
}

/** The task fields a packet reads (the store's `TaskRow` has them all). */
export interface PacketTask {
  id: string;
  externalRef: string | null;
  taskClass: string;
  runbookId: string | null;
  runbookVersion: number | null;
  requestedBy: string | null;
  input: unknown;
  state: TaskState;
  currentStep: string | null;
  steps: Record<string, PacketStepRecord> | unknown;
  retryUsed: number;
  retryLimit: number;
  deadlineAt: TimeLike | null;
  escalation: EscalationInfo | null | unknown;
}

/** One ledger event (`listEvents`). */
export interface LedgerEvent {
  seq: number;
  at: TimeLike;
  type: string;
  step: string | null;
  actor: string;
  data: Record<string, unknown>;
}

/** One attempt row (`listAttempts`). */
export interface AttemptRecord {
  step: string;
  kind: string;
  attempt: number;
  startedAt: TimeLike;
  finishedAt?: TimeLike | null;
  outcome: string | null;
  failureClass: string | null;
  error: string | null;
  durationMs: number | null;
  /** The trimmed, masked answer (status and body excerpt, exit code). */
  result?: unknown;
}

export function iso(t: TimeLike): string {
  return (typeof t === 'string' ? new Date(t) : t).toISOString();
}

export function isoOrNull(t: TimeLike | null | undefined): string | null {
  return t === null || t === undefined ? null : iso(t);
}

/** `s` cut to `max` characters with an ellipsis, so one huge error cannot swamp a packet. */
export function clipText(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A JSON value kept whole when small, else an excerpt and how much was cut. */
export function clipValue(v: unknown, max: number): unknown {
  if (v === undefined) return null;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined || s.length <= max) return v;
  return { excerpt: s.slice(0, max), truncated: s.length - max };
}

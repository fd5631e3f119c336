/**
 * The orchestrator's durable bookkeeping for a task, kept in `tasks.cursor`: where the walk is
 * (the phase, each carrying only its own data), what the current step keeps across its phases,
 * and what the task keeps across steps. Written by the decision and by operator actions; read
 * back through `readCursor`, which also upgrades cursors written by earlier versions, so tasks in
 * flight across an upgrade carry on where they were.
 */
import type { FailureClass, TaskState } from '../lifecycle/vocabulary.js';

/** Where the walk is. */
export type Phase =
  /** No current step: before the first, after the last. */
  | { at: 'idle' }
  /** Guards, `when`, approval gates, then the first attempt. `probeFirst`: a once step that may have taken effect. */
  | { at: 'entering'; probeFirst?: true }
  /** A `wait` step for its callback: until `timeoutAt`; `data` once the callback came. */
  | { at: 'waiting'; timeoutAt: string; data?: unknown; receivedAt?: string }
  /** Re-running earlier safe steps before a retry, first of `queue` next; then the probe or the action. */
  | { at: 'refreshing'; queue: string[]; probeFirst?: true }
  /** The probe of a once step whose effect may have happened, before any new attempt. */
  | { at: 'probing' }
  /** The step's action: next, or in flight. */
  | { at: 'attempting' }
  /** Verification check number `check` (0-based), polled since `startedAt`. */
  | { at: 'verifying'; check: number; startedAt: string; polls: number }
  /** An operator settled the current step by hand (skip): move on from it. */
  | { at: 'settled' }
  /** Undoing completed steps, `queue` next (newest first; absent: not worked out yet); `failures` of the one in progress. */
  | { at: 'compensating'; queue?: string[]; failures: number; crashes?: number };

export type PhaseName = Phase['at'];

/** What the current step keeps across its phases and retries; replaced when the walk enters a step. */
export type StepMemo = {
  /** Failures of the step per class (the retry policy's count). */
  failures?: Partial<Record<FailureClass, number>>;
  /** The step's idempotency key, kept so retries and crash recovery send the same one. */
  key?: string;
  /** Options a `decide` step offered (their `when` held). */
  offered?: string[];
  /** The step's approval: asked for, or granted by an operator. */
  approval?: { granted: boolean; by?: string; note?: string };
  /** Attempts of the step that were in flight when their worker died (see CRASHED_ATTEMPTS_CAP). */
  crashes?: number;
};

/** A task's cursor. Version 2: the phase as a tagged union. */
export type Cursor = {
  v: 2;
  phase: Phase;
  step: StepMemo;
  /** Last attempt number per `${kind}:${step}`. */
  counters: Record<string, number>;
  /**
   * The task's callback credential, made at its first decision when the runbook has a `wait`
   * step, so earlier steps can hand it to the system that will call back (`task.callbackToken`).
   */
  callbackToken?: string;
  /** Model calls this task has started (all `decide` steps), against `DecideEnv.agentCallCap`. */
  agentCalls?: number;
  /** A step failed and the task went on: it can end `partially_completed` at best. */
  partial?: boolean;
};

/** A new task's cursor. */
export function freshCursor(): Cursor {
  return { v: 2, phase: { at: 'idle' }, step: {}, counters: {} };
}

/** What the reader needs to know of the task a stored cursor belongs to. */
export interface CursorOwner {
  state: TaskState;
  currentStep: string | null;
  /** The kind of the task's stored escalation, if any. */
  escalationKind?: string | null;
}

/**
 * The cursor of a stored task. Version 2 is taken as it is; anything else is the version-1 shape
 * (flat optional fields, `phase` a word) and is upgraded to what version 2 would hold at the same
 * point of the walk, dropping what belonged to steps the walk has left.
 */
export function readCursor(raw: unknown, owner: CursorOwner): Cursor {
  const r = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  if (r.v === 2) return structuredClone(r) as Cursor;
  return upgradeV1(r as V1, owner);
}

/** The cursor runwarden wrote before version 2 (kept to read tasks it left in flight). */
interface V1 {
  phase?: 'enter' | 'refresh' | 'probe' | 'action' | 'verify' | 'next';
  failures?: Partial<Record<FailureClass, number>>;
  verify?: { index: number; startedAt: string; polls: number };
  refresh?: string[];
  probeFirst?: boolean;
  approval?: { step: string; granted: boolean; by?: string; note?: string };
  callbackToken?: string;
  callback?: { step: string; token: string; timeoutAt: string; data?: unknown; receivedAt?: string };
  key?: string;
  offered?: string[];
  agentCalls?: number;
  compensation?: { queue: string[]; failures: number };
  partial?: boolean;
  counters?: Record<string, number>;
}

function upgradeV1(o: V1, owner: CursorOwner): Cursor {
  const c: Cursor = { v: 2, phase: { at: 'idle' }, step: {}, counters: { ...(o.counters ?? {}) } };
  if (o.callbackToken !== undefined) c.callbackToken = o.callbackToken;
  if (o.agentCalls !== undefined) c.agentCalls = o.agentCalls;
  if (o.partial !== undefined) c.partial = o.partial;
  // A rollback in progress, or one that stopped for a person (a later walk of a step always
  // started a new one, so an older `compensation` is left over).
  const handedOver = owner.state === 'escalated' || owner.state === 'in_handover';
  const fromRollback = owner.state === 'compensating' || (o.compensation !== undefined && owner.escalationKind === 'compensation_failed' && handedOver);
  const id = owner.currentStep;
  if (id !== null) {
    if (o.failures) c.step.failures = { ...o.failures };
    if (o.key !== undefined) c.step.key = o.key;
    if (o.offered) c.step.offered = [...o.offered];
    if (o.approval && o.approval.step === id) {
      c.step.approval = { granted: o.approval.granted, ...(o.approval.by !== undefined ? { by: o.approval.by } : {}), ...(o.approval.note !== undefined ? { note: o.approval.note } : {}) };
    }
  }
  if (fromRollback) {
    c.phase = { at: 'compensating', ...(o.compensation ? { queue: [...o.compensation.queue] } : {}), failures: o.compensation?.failures ?? 0 };
    return c;
  }
  if (id === null) return c;
  const probeFirst = o.probeFirst ? ({ probeFirst: true } as const) : {};
  switch (o.phase ?? 'enter') {
    case 'enter': {
      const cb = o.callback;
      c.phase =
        cb && cb.step === id
          ? { at: 'waiting', timeoutAt: cb.timeoutAt, ...(cb.data !== undefined ? { data: cb.data } : {}), ...(cb.receivedAt !== undefined ? { receivedAt: cb.receivedAt } : {}) }
          : { at: 'entering', ...probeFirst };
      break;
    }
    case 'refresh':
      c.phase = { at: 'refreshing', queue: [...(o.refresh ?? [])], ...probeFirst };
      break;
    case 'probe':
      c.phase = { at: 'probing' };
      break;
    case 'action':
      c.phase = { at: 'attempting' };
      break;
    case 'verify':
      // Version 1 always wrote `verify` with this phase; the epoch only stands in for a cursor
      // edited by hand, and closes the poll window rather than holding it open.
      c.phase = { at: 'verifying', check: o.verify?.index ?? 0, startedAt: o.verify?.startedAt ?? new Date(0).toISOString(), polls: o.verify?.polls ?? 0 };
      break;
    case 'next':
      c.phase = { at: 'settled' };
      break;
  }
  return c;
}

/** True when the walk is to probe before the next attempt of the current (once) step. */
export function probesFirst(phase: Phase): boolean {
  return phase.at === 'probing' || ((phase.at === 'entering' || phase.at === 'refreshing') && phase.probeFirst === true);
}

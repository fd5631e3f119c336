/**
 * Rollback: compensations of the completed steps, newest first.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { EscalationReason, FailureClass } from '../lifecycle/vocabulary.js';
import type { CompiledStep } from '../runbook/plan.js';
import { Draft } from './draft.js';
import { release } from './moves.js';
import type { Classified } from './outcome.js';
import { yieldIfStopping } from './step-entry.js';
import type { Decision } from './types.js';

/** Compensations of transient failures tried in place before the rollback escalates. */
export const COMPENSATION_TRIES = 3;

export function startRollback(
  d: Draft,
  step: CompiledStep,
  f: { reason: EscalationReason; failureClass: FailureClass | null; message: string },
): void {
  const queue = compensationQueue(d);
  d.cursor.compensation = { queue, failures: 0 };
  d.event('compensation.started', step.id, { cause: f.reason, failureClass: f.failureClass, message: f.message, steps: queue });
  d.moveTo('compensating');
}

/** Succeeded steps that can be undone, newest first. */
export function compensationQueue(d: Draft): string[] {
  return d.plan.steps
    .filter((s) => s.compensate && d.record(s.id).status === 'succeeded')
    .map((s) => s.id)
    .reverse();
}

export function compensateNext(d: Draft): Decision {
  const comp = (d.cursor.compensation ??= { queue: compensationQueue(d), failures: 0 });
  const id = comp.queue[0];
  if (!id) {
    d.event('compensation.finished', null, { ok: true, all: true });
    d.currentStep = null;
    d.moveTo('rolled_back');
    return release(d);
  }
  const yielded = yieldIfStopping(d);
  if (yielded) return yielded;
  const step = d.step(id);
  const c = step.compensate!;
  const attempt = d.nextAttemptNo('compensate', id);
  const key = c.repeat === 'keyed' ? `${d.task.id}:${id}:compensate` : null;
  d.startAttempt = { step: id, kind: 'compensate', attempt, idempotencyKey: key };
  d.event('attempt.started', id, { kind: 'compensate', attempt, idempotencyKey: key });
  return {
    commit: d.commit()!,
    next: { type: 'perform', attempt: d.startAttempt, spec: c.spec, ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}) },
  };
}

export function onCompensated(d: Draft, step: CompiledStep, cls: Classified): Decision | null {
  const comp = (d.cursor.compensation ??= { queue: [], failures: 0 });
  if (cls.ok) {
    d.setStatus(step.id, 'compensated');
    d.event('compensation.finished', step.id, { ok: true });
    comp.queue = comp.queue.filter((id) => id !== step.id);
    comp.failures = 0;
    return null;
  }
  comp.failures += 1;
  const transient = cls.failureClass === 'transient' || cls.failureClass === 'timeout';
  const policy = step.retry.transient;
  if (transient && comp.failures < COMPENSATION_TRIES) {
    const delay = policy ? Math.min(policy.delayMs * 2 ** (comp.failures - 1), policy.maxDelayMs) : 1000;
    return { commit: d.commit()!, next: { type: 'sleep', ms: delay } };
  }
  d.setStatus(step.id, 'compensation_failed', cls.message);
  d.event('compensation.finished', step.id, { ok: false, failureClass: cls.failureClass, error: cls.message });
  d.escalate({ kind: 'compensation_failed', failureClass: cls.failureClass, step: step.id, message: `undoing ${step.id} failed: ${cls.message}` });
  return release(d);
}

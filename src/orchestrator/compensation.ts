/**
 * Rollback: the compensations of the completed steps, newest first, each retried in place on a
 * transient failure before the rollback escalates.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { EscalationReason, FailureClass } from '../lifecycle/vocabulary.js';
import type { CompiledStep } from '../runbook/plan.js';
import type { Draft } from './draft.js';
import type { Classified } from './outcome.js';
import type { ProbeVerdict } from '../verifiers/index.js';
import type { Phase } from './cursor.js';
import { RELEASE, stop, WALK_ON, yieldsToRole, yieldsToStop, type Progress } from './walk.js';

/** Compensations of transient failures tried in place before the rollback escalates. */
export const COMPENSATION_TRIES = 3;

type Compensating = Extract<Phase, { at: 'compensating' }>;

/** The failure of `step` is final and its runbook says roll back: the task starts compensating. */
export function startRollback(
  d: Draft,
  step: CompiledStep,
  f: { reason: EscalationReason; failureClass: FailureClass | null; message: string },
): void {
  const queue = compensationQueue(d);
  d.setPhase({ at: 'compensating', queue, failures: 0 });
  d.event('compensation.started', step.id, { cause: f.reason, failureClass: f.failureClass, message: f.message, steps: queue });
  d.moveTo('compensating');
}

/**
 * Steps that can be undone, newest first: those that succeeded, and those in doubt (a once step
 * whose effect may have happened), which are probed before anything is undone for them.
 */
export function compensationQueue(d: Draft): string[] {
  return d.plan.steps
    .filter((s) => s.compensate && (d.record(s.id).status === 'succeeded' || d.record(s.id).status === 'in_doubt'))
    .map((s) => s.id)
    .reverse();
}

/** The rollback's phase; a rollback an operator asked for starts here, its queue worked out now. */
function compensating(d: Draft): Compensating & { queue: string[] } {
  let phase = d.phase;
  if (phase.at !== 'compensating') {
    phase = { at: 'compensating', failures: 0 };
    d.setPhase(phase);
  }
  phase.queue ??= compensationQueue(d);
  return phase as Compensating & { queue: string[] };
}

/** Starts the next compensation, or ends the rollback when none is left. */
export function compensateNext(d: Draft): Progress {
  const comp = compensating(d);
  const id = comp.queue[0];
  if (!id) {
    d.event('compensation.finished', null, { ok: true, all: true });
    d.leaveSteps();
    d.moveTo('rolled_back');
    return RELEASE;
  }
  const step = d.step(id);
  if (d.record(id).status === 'in_doubt') return probeBeforeUndo(d, step);
  if (yieldsToStop(d) || yieldsToRole(d, 'execution')) return RELEASE;
  const c = step.compensate!;
  const attempt = d.nextAttemptNo('compensate', id);
  const key = c.repeat === 'keyed' ? `${d.task.id}:${id}:compensate` : null;
  d.startAttempt = { step: id, kind: 'compensate', attempt, idempotencyKey: key };
  d.event('attempt.started', id, { kind: 'compensate', attempt, idempotencyKey: key });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: c.spec, ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}) });
}

/** A compensation's outcome: the next one, a retry in place, or compensation_failed. */
export function onCompensated(d: Draft, step: CompiledStep, cls: Classified): Progress {
  const comp = compensating(d);
  if (cls.ok) {
    d.setStatus(step.id, 'compensated');
    d.event('compensation.finished', step.id, { ok: true });
    comp.queue = comp.queue.filter((id) => id !== step.id);
    comp.failures = 0;
    delete comp.crashes;
    return WALK_ON;
  }
  comp.failures += 1;
  const transient = cls.failureClass === 'transient' || cls.failureClass === 'timeout';
  const policy = step.retry.transient;
  if (transient && comp.failures < COMPENSATION_TRIES) {
    const delay = policy ? Math.min(policy.delayMs * 2 ** (comp.failures - 1), policy.maxDelayMs) : 1000;
    return stop({ type: 'sleep', ms: delay });
  }
  d.setStatus(step.id, 'compensation_failed', cls.message);
  d.event('compensation.finished', step.id, { ok: false, failureClass: cls.failureClass, error: cls.message });
  d.escalate({ kind: 'compensation_failed', failureClass: cls.failureClass, step: step.id, message: `undoing ${step.id} failed: ${cls.message}` });
  return RELEASE;
}

/**
 * A step in doubt in the rollback's way: whether its effect happened decides whether to undo it,
 * so its probe runs first. Without a probe it cannot be known, and the rollback stops for a person
 * rather than end rolled_back while (say) a charge may still stand.
 */
function probeBeforeUndo(d: Draft, step: CompiledStep): Progress {
  const probe = step.probe;
  if (!probe) {
    d.escalate({
      kind: 'compensation_failed',
      failureClass: 'ambiguous',
      step: step.id,
      message: `${step.id} may have taken effect and has no probe to tell whether to undo it: check ${step.id}'s system, then undo it by hand or resume`,
    });
    return RELEASE;
  }
  if (yieldsToStop(d) || yieldsToRole(d, 'verification')) return RELEASE;
  const attempt = d.nextAttemptNo('probe', step.id);
  d.startAttempt = { step: step.id, kind: 'probe', attempt, idempotencyKey: null };
  d.event('attempt.started', step.id, { kind: 'probe', attempt, for: 'compensation' });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: probe.spec, ...(probe.timeoutMs !== undefined ? { timeoutMs: probe.timeoutMs } : {}) });
}

/** The probe of a step in doubt during a rollback: undo it (present), pass it by (absent), or stop. */
export function onRollbackProbe(d: Draft, step: CompiledStep, verdict: ProbeVerdict, transientRead: boolean): Progress {
  const comp = compensating(d);
  if (verdict.verdict === 'present') {
    d.record(step.id).captures = { ...d.record(step.id).captures, ...verdict.captures };
    d.setStatus(step.id, 'succeeded', 'the probe found its effect: it is undone');
    comp.failures = 0;
    return WALK_ON;
  }
  if (verdict.verdict === 'absent') {
    d.setStatus(step.id, 'failed', 'the probe found no effect: nothing to undo');
    d.event('compensation.finished', step.id, { ok: true, skipped: true, why: 'the probe found no effect' });
    comp.queue = comp.queue.filter((id) => id !== step.id);
    comp.failures = 0;
    return WALK_ON;
  }
  comp.failures += 1;
  const policy = step.retry.transient;
  if (transientRead && comp.failures < COMPENSATION_TRIES) {
    return stop({ type: 'sleep', ms: policy ? Math.min(policy.delayMs * 2 ** (comp.failures - 1), policy.maxDelayMs) : 1000 });
  }
  d.escalate({
    kind: 'compensation_failed',
    failureClass: 'ambiguous',
    step: step.id,
    message: `${step.id} may have taken effect and its probe could not tell whether to undo it: ${verdict.problem}`,
  });
  return RELEASE;
}

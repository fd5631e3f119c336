/**
 * Recovery: an attempt with a recorded start and no outcome is in doubt; `repeat` says what to do.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { Draft } from './draft.js';
import type { OpenAttempt } from './types.js';

/**
 * Attempts of one step (or one compensation) that may die with their worker before it stops the
 * task: a replay in doubt costs nothing of the retry policy or the budget, so without a cap a step
 * that kills its worker (a runaway exec, an action that exhausts memory) would be run up to the
 * deadline, taking a worker down each time.
 */
export const CRASHED_ATTEMPTS_CAP = 3;

/** Counts the crash against the step (or the compensation in progress); true when it escalated. */
function crashedTooOften(d: Draft, open: OpenAttempt): boolean {
  const phase = d.phase;
  const compensating = d.state === 'compensating' && phase.at === 'compensating';
  const counter = compensating ? phase : d.cursor.step;
  counter.crashes = (counter.crashes ?? 0) + 1;
  if (counter.crashes < CRASHED_ATTEMPTS_CAP) return false;
  const stepId = compensating ? open.step : d.currentStep ?? open.step;
  const message = `the worker stopped during ${counter.crashes} attempts of ${stepId}${compensating ? "'s compensation" : ''} (the last: ${open.kind} #${open.attempt}, started ${open.startedAt.toISOString()}); runwarden does not run it again by itself: check what those attempts did, then resume or retry`;
  if (compensating) {
    d.setStatus(open.step, 'compensation_failed', 'its compensation crashed its worker');
    d.escalate({ kind: 'compensation_failed', failureClass: 'internal', step: open.step, message });
    return true;
  }
  const step = d.step(stepId);
  d.setStatus(step.id, open.kind === 'action' && step.changes ? 'in_doubt' : 'failed', 'its attempts crashed their worker');
  d.escalate({ kind: 'non_retryable', failureClass: 'internal', step: step.id, message });
  return true;
}

/** An attempt that started and has no outcome: the worker stopped mid-attempt. */
export function onInDoubt(d: Draft, open: OpenAttempt): void {
  d.finishAttempts.push({
    step: open.step,
    kind: open.kind,
    attempt: open.attempt,
    idempotencyKey: open.idempotencyKey,
    outcome: 'in_doubt',
    failureClass: null,
    error: 'no recorded outcome: the worker stopped during the attempt',
    durationMs: Math.max(0, d.now.getTime() - open.startedAt.getTime()),
    result: null,
  });
  d.event('attempt.in_doubt', open.step, { kind: open.kind, attempt: open.attempt, idempotencyKey: open.idempotencyKey });
  if (d.state !== 'running' && d.state !== 'compensating') return;
  const step = d.step(open.step);
  if (crashedTooOften(d, open)) return;
  if (open.kind === 'action') {
    if (step.repeat !== 'once') return; // safe replays; keyed replays with the kept key
    if (step.probe) {
      d.setPhase({ at: 'probing' });
      return;
    }
    d.setStatus(step.id, 'in_doubt', 'the worker stopped during the attempt');
    d.escalate({
      kind: 'ambiguous_state',
      failureClass: 'ambiguous',
      step: step.id,
      message: `${step.id} is a once step that was in progress when its worker stopped; it has no probe, so runwarden cannot know whether it took effect`,
    });
  } else if (open.kind === 'compensate' && step.compensate?.repeat === 'once') {
    d.setStatus(step.id, 'compensation_failed', 'in doubt');
    d.escalate({
      kind: 'compensation_failed',
      failureClass: 'ambiguous',
      step: step.id,
      message: `undoing ${step.id} was in progress when its worker stopped, and it cannot be replayed`,
    });
  }
  // verify, probe and refresh read only: they replay.
}

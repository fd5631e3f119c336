/**
 * Recovery: an attempt with a recorded start and no outcome is in doubt; `repeat` says what to do.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { Draft } from './draft.js';
import type { OpenAttempt } from './types.js';

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

/**
 * What an attempt's outcome means for its step: the action's (classified, then captured and
 * verified, or a failure for the retry policy), a verification's (polled within its window), a
 * probe's (present, absent, or it cannot tell), a refresh's, a compensation's, a decision's.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { FailureClass } from '../lifecycle/vocabulary.js';
import { formatDuration } from '../runbook/duration.js';
import type { CompiledStep, ExprContext } from '../runbook/plan.js';
import { evaluateCheck, evaluateProbe, pollAgain } from '../verifiers/index.js';
import { onDecided } from './agent-step.js';
import { evaluateCaptures } from './captures.js';
import { onCompensated, onRollbackProbe } from './compensation.js';
import type { Draft } from './draft.js';
import { observe } from './observe.js';
import { classify, describeResult, passingReadFailure, type RawOutcome } from './outcome.js';
import { internalFailure, onActionSucceeded, onFailure, retryProbe, stepSucceeded, verifying, verifyOrSucceed } from './settle.js';
import type { AttemptRef } from './types.js';
import { RELEASE, stop, WALK_ON, type Progress } from './walk.js';

export function onFinished(d: Draft, attempt: AttemptRef, raw: RawOutcome, durationMs: number): Progress {
  const { kind, step: stepId } = attempt;
  const step = d.step(stepId);
  const ctx = d.context(step);
  if (kind === 'verify') return onVerified(d, step, raw, ctx, attempt, durationMs);
  if (kind === 'probe') return onProbed(d, step, raw, ctx, attempt, durationMs);

  const cls = classify(step, raw, ctx);
  d.finishAttempts.push({
    ...attempt,
    outcome: cls.ok ? 'succeeded' : 'failed',
    failureClass: cls.ok ? null : cls.failureClass,
    error: cls.ok ? null : cls.message,
    durationMs,
    result: observe(cls.ok ? cls.result : cls.result ?? null),
  });
  d.event('attempt.finished', stepId, {
    kind,
    attempt: attempt.attempt,
    outcome: cls.ok ? 'succeeded' : 'failed',
    failureClass: cls.ok ? null : cls.failureClass,
    error: cls.ok ? null : cls.message,
    durationMs,
  });

  if (kind === 'compensate') return onCompensated(d, step, cls);
  if (kind === 'refresh') return onRefreshed(d, step, cls.ok ? { ok: true, result: cls.result } : cls, ctx);
  if (step.spec.action === 'decide') return onDecided(d, step, cls, raw);
  if (!cls.ok) return onFailure(d, step, cls);
  return onActionSucceeded(d, step, cls.result, ctx);
}

/** A refreshed earlier step: its new captures, then the next refresh; its failure is the current step's. */
function onRefreshed(d: Draft, refreshed: CompiledStep, cls: ReturnType<typeof classify>, ctx: ExprContext): Progress {
  const current = d.current()!;
  if (!cls.ok) return onFailure(d, current, cls);
  const captured = evaluateCaptures(refreshed.capture, { ...ctx, result: cls.result });
  if ('error' in captured) return internalFailure(d, current, captured.error);
  d.record(refreshed.id).captures = captured.values;
  const phase = d.phase;
  if (phase.at === 'refreshing') d.setPhase({ ...phase, queue: phase.queue.slice(1) });
  return WALK_ON;
}

export function onVerified(d: Draft, step: CompiledStep, raw: RawOutcome, ctx: ExprContext, ref: AttemptRef, durationMs: number): Progress {
  const v = verifying(d);
  const check = step.verify[v.check];
  if (!check) return stepSucceeded(d, step);
  const { passed, observed, problem } = evaluateCheck(check, raw, ctx);
  v.polls += 1;
  d.finishAttempts.push({ ...ref, kind: 'verify', outcome: passed ? 'succeeded' : 'failed', failureClass: passed ? null : 'verification', error: passed ? null : problem ?? `expected ${check.expect.source}`, durationMs, result: observed });
  d.event('verification.result', step.id, {
    check: check.id,
    passed,
    expected: check.expect.source,
    observed,
    poll: v.polls,
    ...(problem ? { error: problem } : {}),
  });
  if (passed) {
    v.check += 1;
    v.polls = 0;
    v.startedAt = d.nowIso;
    if (v.check >= step.verify.length) return stepSucceeded(d, step);
    return WALK_ON;
  }
  if (pollAgain(check, new Date(v.startedAt), d.now, d.task.deadlineAt)) return stop({ type: 'sleep', ms: check.poll!.everyMs });
  const within = check.poll ? ` within ${formatDuration(check.poll.withinMs)}` : '';
  const last = raw.kind === 'result' ? describeResult(raw.result) : raw.message;
  return onFailure(d, step, {
    ok: false,
    failureClass: 'verification',
    message: `${check.id}: expected ${check.expect.source}${within}; last observed ${last}`,
    maybeApplied: false,
  });
}

export function onProbed(d: Draft, step: CompiledStep, raw: RawOutcome, ctx: ExprContext, ref: AttemptRef, durationMs: number): Progress {
  const probe = step.probe!;
  const p = evaluateProbe(probe, raw, ctx);
  const problem = p.verdict === 'unknown' ? p.problem : null;
  d.finishAttempts.push({ ...ref, kind: 'probe', outcome: p.verdict === 'unknown' ? 'failed' : 'succeeded', failureClass: p.verdict === 'unknown' ? 'ambiguous' : null, error: problem, durationMs, result: p.observed });
  d.event('probe.result', step.id, { verdict: p.verdict, observed: p.observed, present: probe.present.source, absent: probe.absent.source, ...(problem ? { error: problem } : {}) });
  if (d.state === 'compensating') return onRollbackProbe(d, step, p, passingReadFailure(raw) !== null);
  if (p.verdict === 'present') {
    d.record(step.id).captures = { ...d.record(step.id).captures, ...p.captures };
    return verifyOrSucceed(d, step);
  }
  if (p.verdict === 'absent') {
    d.setPhase({ at: 'attempting' });
    return WALK_ON;
  }
  const passing = passingReadFailure(raw);
  if (passing) {
    // A read that met a passing fault says nothing about the effect: read again, under the
    // step's policy for that failure, before handing the task over.
    const retried = retryProbe(d, step, passing);
    if (retried.retry) return RELEASE;
    return ambiguous(d, step, `${problem} (${retried.message})`);
  }
  return ambiguous(d, step, problem);
}

/** The probe could not tell whether the step took effect: a person must look. */
function ambiguous(d: Draft, step: CompiledStep, problem: string | null): Progress {
  d.setStatus(step.id, 'in_doubt', problem ?? 'the probe proved nothing');
  d.escalate({
    kind: 'ambiguous_state',
    failureClass: 'ambiguous',
    step: step.id,
    message: `${step.id} may have taken effect and the probe could not tell: ${problem}`,
  });
  return RELEASE;
}

/**
 * The attempt in flight when an operator cancelled: its outcome as it was (an action that
 * answered keeps its captures: its effect happened), `human_aborted` when the cancel cut it off.
 */
export function recordCancelledAttempt(d: Draft, attempt: AttemptRef, raw: RawOutcome, durationMs: number): void {
  const step = d.step(attempt.step);
  const cut = raw.kind === 'error' && raw.code === 'ABORTED';
  const cls = cut ? null : classify(step, raw, d.context(step));
  let failureClass: FailureClass | null = null;
  let error: string | null = null;
  if (cut) {
    failureClass = 'human_aborted';
    error = 'cancelled by an operator during the attempt';
  } else if (cls && !cls.ok) {
    failureClass = cls.failureClass;
    error = cls.message;
  }
  const ok = cls?.ok === true;
  d.finishAttempts.push({ ...attempt, outcome: ok ? 'succeeded' : 'failed', failureClass, error, durationMs, result: raw.kind === 'result' ? observe(raw.result) : null });
  d.event('attempt.finished', attempt.step, { kind: attempt.kind, attempt: attempt.attempt, outcome: ok ? 'succeeded' : 'failed', failureClass, error, durationMs });
  if (attempt.kind !== 'action') return;
  if (cls?.ok) {
    const captured = evaluateCaptures(step.capture, { ...d.context(step), result: cls.result });
    if ('values' in captured) d.record(step.id).captures = captured.values;
    d.setStatus(step.id, 'succeeded', 'its action finished as the task was cancelled');
  } else {
    d.setStatus(step.id, cut && step.repeat === 'once' ? 'in_doubt' : 'failed', error ?? undefined);
  }
}

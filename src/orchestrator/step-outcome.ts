/**
 * What an attempt's outcome means for its step: captures, verification with polling, probe
 * verdicts. Failures go on to step-settle.ts, compensations to rollback.ts, decisions to agent-step.ts.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import { formatDuration } from '../runbook/duration.js';
import type { CompiledStep, ExprContext } from '../runbook/plan.js';
import { evaluateCheck, evaluateProbe, pollAgain } from '../verifiers/index.js';
import { onDecided } from './agent-step.js';
import { Draft } from './draft.js';
import { asRecord, evaluateCaptures, release } from './moves.js';
import { observe } from './observe.js';
import { classify, describeResult } from './outcome.js';
import type { RawOutcome } from './outcome.js';
import { onCompensated } from './rollback.js';
import { internalFailure, onFailure, stepSucceeded } from './step-settle.js';
import type { AttemptRef, Decision } from './types.js';
import type { FailureClass } from '../lifecycle/vocabulary.js';

export function onFinished(
  d: Draft,
  kind: string,
  stepId: string,
  attempt: number,
  key: string | null,
  raw: RawOutcome,
  durationMs: number,
): Decision | null {
  const step = d.step(stepId);
  const ctx = d.context(step);
  const finishRef = { step: stepId, kind: kind as 'action', attempt, idempotencyKey: key };
  if (kind === 'verify') return onVerified(d, step, raw, ctx, finishRef, durationMs);
  if (kind === 'probe') return onProbed(d, step, raw, ctx, finishRef, durationMs);

  const cls = classify(step, raw, ctx);
  d.finishAttempts.push({
    ...finishRef,
    outcome: cls.ok ? 'succeeded' : 'failed',
    failureClass: cls.ok ? null : cls.failureClass,
    error: cls.ok ? null : cls.message,
    durationMs,
    result: observe(cls.ok ? cls.result : cls.result ?? null),
  });
  d.event('attempt.finished', stepId, {
    kind,
    attempt,
    outcome: cls.ok ? 'succeeded' : 'failed',
    failureClass: cls.ok ? null : cls.failureClass,
    error: cls.ok ? null : cls.message,
    durationMs,
  });

  if (kind === 'compensate') return onCompensated(d, step, cls);
  if (kind === 'refresh') {
    const current = d.current()!;
    if (!cls.ok) return onFailure(d, current, cls);
    const captured = evaluateCaptures(step.capture, { ...ctx, result: cls.result });
    if ('error' in captured) return internalFailure(d, current, captured.error);
    d.record(stepId).captures = captured.values;
    d.cursor.refresh = (d.cursor.refresh ?? []).slice(1);
    return null;
  }
  if (step.spec.action === 'decide') return onDecided(d, step, cls, raw);
  if (!cls.ok) return onFailure(d, step, cls);
  return onActionSucceeded(d, step, cls.result, ctx);
}

export function onActionSucceeded(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Decision | null {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = captured.values;
  return verifyOrSucceed(d, step);
}

export function captureAndSucceed(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Decision | null {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = Object.keys(step.capture).length ? captured.values : asRecord(result);
  return stepSucceeded(d, step);
}

export function onVerified(
  d: Draft,
  step: CompiledStep,
  raw: RawOutcome,
  ctx: ExprContext,
  ref: { step: string; kind: 'action'; attempt: number; idempotencyKey: string | null },
  durationMs: number,
): Decision | null {
  const v = (d.cursor.verify ??= { index: 0, startedAt: d.nowIso, polls: 0 });
  const check = step.verify[v.index];
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
    v.index += 1;
    v.polls = 0;
    v.startedAt = d.nowIso;
    if (v.index >= step.verify.length) return stepSucceeded(d, step);
    return null;
  }
  if (pollAgain(check, new Date(v.startedAt), d.now, d.task.deadlineAt)) {
    return { commit: d.commit()!, next: { type: 'sleep', ms: check.poll!.everyMs } };
  }
  const within = check.poll ? ` within ${formatDuration(check.poll.withinMs)}` : '';
  const last = raw.kind === 'result' ? describeResult(raw.result) : raw.message;
  return onFailure(d, step, {
    ok: false,
    failureClass: 'verification',
    message: `${check.id}: expected ${check.expect.source}${within}; last observed ${last}`,
    maybeApplied: false,
  });
}

export function onProbed(
  d: Draft,
  step: CompiledStep,
  raw: RawOutcome,
  ctx: ExprContext,
  ref: { step: string; kind: 'action'; attempt: number; idempotencyKey: string | null },
  durationMs: number,
): Decision | null {
  const probe = step.probe!;
  const p = evaluateProbe(probe, raw, ctx);
  const problem = p.verdict === 'unknown' ? p.problem : null;
  d.finishAttempts.push({ ...ref, kind: 'probe', outcome: p.verdict === 'unknown' ? 'failed' : 'succeeded', failureClass: p.verdict === 'unknown' ? 'ambiguous' : null, error: problem, durationMs, result: p.observed });
  d.event('probe.result', step.id, { verdict: p.verdict, observed: p.observed, present: probe.present.source, absent: probe.absent.source, ...(problem ? { error: problem } : {}) });
  if (p.verdict === 'present') {
    delete d.cursor.probeFirst;
    d.record(step.id).captures = { ...d.record(step.id).captures, ...p.captures };
    return verifyOrSucceed(d, step);
  }
  if (p.verdict === 'absent') {
    delete d.cursor.probeFirst;
    d.cursor.phase = 'action';
    return null;
  }
  d.setStatus(step.id, 'in_doubt', problem ?? 'the probe proved nothing');
  d.escalate({
    kind: 'ambiguous_state',
    failureClass: 'ambiguous',
    step: step.id,
    message: `${step.id} may have taken effect and the probe could not tell: ${problem}`,
  });
  return release(d);
}

/** The action took effect: verify the end state when the step says how, else it succeeded. */
function verifyOrSucceed(d: Draft, step: CompiledStep): Decision | null {
  if (step.verify.length === 0) return stepSucceeded(d, step);
  d.cursor.phase = 'verify';
  d.cursor.verify = { index: 0, startedAt: d.nowIso, polls: 0 };
  return null;
}

/**
 * The attempt in flight when an operator cancelled: its outcome as it was (an action that
 * answered keeps its captures: its effect happened), `human_aborted` when the cancel cut it off.
 */
export function recordCancelledAttempt(d: Draft, attempt: AttemptRef, raw: RawOutcome, durationMs: number): void {
  const step = d.step(attempt.step);
  const cut = raw.kind === 'error' && raw.code === 'ABORTED';
  const cls = cut ? null : classify(step, raw, d.context(step));
  const ok = cls?.ok === true;
  const failureClass = ok ? null : cut ? 'human_aborted' : (cls as { failureClass: FailureClass }).failureClass;
  const error = ok ? null : cut ? 'cancelled by an operator during the attempt' : (cls as { message: string }).message;
  d.finishAttempts.push({ ...attempt, outcome: ok ? 'succeeded' : 'failed', failureClass, error, durationMs, result: raw.kind === 'result' ? observe(raw.result) : null });
  d.event('attempt.finished', attempt.step, { kind: attempt.kind, attempt: attempt.attempt, outcome: ok ? 'succeeded' : 'failed', failureClass, error, durationMs });
  if (attempt.kind === 'action') {
    if (ok) {
      const captured = evaluateCaptures(step.capture, { ...d.context(step), result: (cls as { result: unknown }).result });
      if ('values' in captured) d.record(step.id).captures = captured.values;
      d.setStatus(step.id, 'succeeded', 'its action finished as the task was cancelled');
    } else {
      d.setStatus(step.id, cut && step.repeat === 'once' ? 'in_doubt' : 'failed', error ?? undefined);
    }
  }
}

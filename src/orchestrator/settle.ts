/**
 * Settling a step: a success is captured, verified and followed by `next`; a failure is retried
 * durably (`retry_scheduled`) or handled by `critical` and `onFailure` (continue, goto, rollback,
 * escalate).
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { EscalationReason, FailureClass, StepStatus } from '../lifecycle/vocabulary.js';
import type { CompiledStep, ExprContext } from '../runbook/plan.js';
import { asRecord, evaluateCaptures } from './captures.js';
import { startRollback } from './compensation.js';
import type { Phase } from './cursor.js';
import type { Draft } from './draft.js';
import type { Classified } from './outcome.js';
import { retryVerdict } from './retry-policy.js';
import { goToNext, jumpTo, RELEASE, WALK_ON, type Progress } from './walk.js';

type Failure = Extract<Classified, { ok: false }>;

/** A failed attempt of `step`: retried when its policy, the budget and the deadline allow. */
export function onFailure(d: Draft, step: CompiledStep, cls: Failure): Progress {
  const failures = d.countFailure(cls.failureClass);
  const verdict = retryVerdict({
    policy: step.retry[cls.failureClass],
    failureClass: cls.failureClass,
    failures,
    retryUsed: d.retryUsed,
    retryLimit: d.task.retryLimit,
    deadlineAt: d.task.deadlineAt,
    ...(cls.retryAfterMs !== undefined ? { retryAfterMs: cls.retryAfterMs } : {}),
    now: d.now,
    random: d.env.random(),
  });
  const doubt: StepStatus = step.repeat === 'once' && cls.maybeApplied ? 'in_doubt' : 'failed';
  // A once step whose attempt never reached the other side (refused, or never sent: no answer,
  // nothing applied) is simply tried again: nothing is in doubt, so neither an escalation nor a
  // probe is due. An answer, even an error status, may come after an effect: that stays in doubt.
  const unsure = step.repeat === 'once' && (cls.maybeApplied || cls.result !== undefined);
  if (verdict.retry && unsure && !step.probe) {
    d.setStatus(step.id, doubt, cls.message);
    d.escalate({
      kind: 'ambiguous_state',
      failureClass: cls.failureClass,
      step: step.id,
      message: `${step.id} failed (${cls.message}) and is a once step without a probe: it is never replayed blindly`,
    });
    return RELEASE;
  }
  if (verdict.retry) {
    d.retryUsed += 1;
    d.nextAttemptAt = verdict.at;
    const refresh = refreshList(d, step, verdict.refresh);
    // A once step's failure that may have taken effect: its probe runs before any new attempt.
    const once = unsure;
    if (refresh.length) d.setPhase({ at: 'refreshing', queue: refresh, ...(once ? { probeFirst: true as const } : {}) });
    else d.setPhase(once ? { at: 'probing' } : { at: 'attempting' });
    d.event('retry.scheduled', step.id, {
      failureClass: cls.failureClass,
      attempt: d.record(step.id).attempts,
      delayMs: verdict.delayMs,
      at: verdict.at.toISOString(),
      retryAfterMs: cls.retryAfterMs ?? null,
      budget: { used: d.retryUsed, limit: d.task.retryLimit },
      ...(refresh.length ? { refresh } : {}),
    });
    d.moveTo('retry_scheduled');
    return RELEASE;
  }
  d.setStatus(step.id, doubt, cls.message);
  return failStep(d, step, { reason: verdict.reason, failureClass: cls.failureClass, message: `${step.id}: ${cls.message}; ${verdict.message}` });
}

/**
 * The probe of `step` met a passing fault (`transient` or `timeout`): read again later, durably
 * (`retry_scheduled`, the probe first), when the step's policy for that class, the budget and the
 * deadline allow. Returns the verdict; on `retry: true` the task is scheduled.
 */
export function retryProbe(d: Draft, step: CompiledStep, failureClass: 'transient' | 'timeout'): { retry: true } | { retry: false; message: string } {
  const failures = d.countFailure(failureClass);
  const verdict = retryVerdict({
    policy: step.retry[failureClass],
    failureClass,
    failures,
    retryUsed: d.retryUsed,
    retryLimit: d.task.retryLimit,
    deadlineAt: d.task.deadlineAt,
    now: d.now,
    random: d.env.random(),
  });
  if (!verdict.retry) return { retry: false, message: verdict.message };
  d.retryUsed += 1;
  d.nextAttemptAt = verdict.at;
  d.setPhase({ at: 'probing' });
  d.event('retry.scheduled', step.id, {
    failureClass,
    attempt: d.record(step.id).attempts,
    probe: true,
    delayMs: verdict.delayMs,
    at: verdict.at.toISOString(),
    retryAfterMs: null,
    budget: { used: d.retryUsed, limit: d.task.retryLimit },
  });
  d.moveTo('retry_scheduled');
  return { retry: true };
}

/** The step's failure is final: `critical`, then `onFailure`, decide what happens to the task. */
export function failStep(
  d: Draft,
  step: CompiledStep,
  f: { reason: EscalationReason; failureClass: FailureClass | null; message: string },
): Progress {
  const status = d.record(step.id).status;
  if (status !== 'failed' && status !== 'in_doubt') d.setStatus(step.id, 'failed', f.message);
  d.event('step.failed', step.id, { reason: f.reason, failureClass: f.failureClass, message: f.message });
  // Doubt and policy refusals always go to a person: no rule may paper over them.
  const mustEscalate = f.reason === 'ambiguous_state' || f.reason === 'off_policy';
  if (!step.critical && !mustEscalate) {
    d.cursor.partial = true;
    goToNext(d, step, false);
    return WALK_ON;
  }
  const mode = mustEscalate ? { mode: 'escalate' as const } : step.onFailure;
  switch (mode.mode) {
    case 'continue':
      d.cursor.partial = true;
      goToNext(d, step, false);
      return WALK_ON;
    case 'goto':
      jumpTo(d, step, mode.target);
      return WALK_ON;
    case 'rollback':
      startRollback(d, step, f);
      return WALK_ON;
    case 'escalate':
      d.escalate({ kind: f.reason, failureClass: f.failureClass, step: step.id, message: f.message });
      return RELEASE;
  }
}

/** Something of the step's own could not be evaluated: a final `internal` failure of it. */
export function internalFailure(d: Draft, step: CompiledStep, message: string): Progress {
  d.setStatus(step.id, 'failed', message);
  return failStep(d, step, { reason: 'non_retryable', failureClass: 'internal', message: `${step.id}: ${message}` });
}

/** The step is done: follow the `next` rules, or jump to `target` (a decision's option). */
export function stepSucceeded(d: Draft, step: CompiledStep, target?: string): Progress {
  d.setStatus(step.id, 'succeeded');
  d.event('step.succeeded', step.id, { attempts: d.record(step.id).attempts });
  const confirm = confirmAfterRetry(d, step);
  if (confirm) return confirm;
  if (target) jumpTo(d, step, target);
  else goToNext(d, step, true);
  return WALK_ON;
}

/**
 * `retry.<class>.confirm`: a step that succeeded only after failures of a class whose policy asks
 * for confirmation waits in `awaiting_approval` (reason `confirm_after_retry`) for a person; its
 * attempts, the failures and the success, are the packet's evidence. Approved, the walk goes on
 * from the step as settled; denied, the step counts as failed (operator.ts `deny`). A success at
 * the first try never asks: only a retry makes a success doubtful.
 */
function confirmAfterRetry(d: Draft, step: CompiledStep): Progress | undefined {
  if (d.cursor.step.approval?.granted) return undefined;
  const failures = d.cursor.step.failures ?? {};
  const classes = (Object.keys(failures) as FailureClass[]).filter((c) => (failures[c] ?? 0) > 0 && step.retry[c]?.confirm);
  if (!classes.length) return undefined;
  const counted = classes.map((c) => `${failures[c]} ${c} failure(s)`).join(', ');
  const attempts = d.record(step.id).attempts;
  d.setPhase({ at: 'settled' });
  d.cursor.step.approval = { granted: false };
  d.event('approval.requested', step.id, { reason: 'confirm_after_retry', route: null, prompt: null, failures: Object.fromEntries(classes.map((c) => [c, failures[c]])), attempts });
  d.moveTo('awaiting_approval');
  if (d.task.deadlineAt) d.nextAttemptAt = d.task.deadlineAt;
  d.notice({
    kind: 'confirm_after_retry',
    failureClass: classes[0]!,
    step: step.id,
    message: `${step.id} succeeded on try ${attempts} after ${counted}; confirm the result before the task goes on`,
  });
  d.touch();
  return RELEASE;
}

/** The action took effect: capture from its result, then verify or succeed. */
export function onActionSucceeded(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Progress {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = captured.values;
  return verifyOrSucceed(d, step);
}

/** A result that needs no verification (a callback's data): captured, then the step is done. */
export function captureAndSucceed(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Progress {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = Object.keys(step.capture).length ? captured.values : asRecord(result);
  return stepSucceeded(d, step);
}

/** The action took effect: verify the end state when the step says how, else it succeeded. */
export function verifyOrSucceed(d: Draft, step: CompiledStep): Progress {
  if (step.verify.length === 0) return stepSucceeded(d, step);
  d.setPhase({ at: 'verifying', check: 0, startedAt: d.nowIso, polls: 0 });
  return WALK_ON;
}

/** The verification in progress (opened now if the cursor has none). */
export function verifying(d: Draft): Extract<Phase, { at: 'verifying' }> {
  const phase = d.phase;
  if (phase.at === 'verifying') return phase;
  const opened = { at: 'verifying' as const, check: 0, startedAt: d.nowIso, polls: 0 };
  d.setPhase(opened);
  return opened;
}

/** Earlier safe reads to run again before a retry: all of them (`true`) or those named. */
export function refreshList(d: Draft, step: CompiledStep, refresh: boolean | string[]): string[] {
  if (refresh === false) return [];
  const earlier = d.plan.steps.filter(
    (s) => s.index < step.index && s.repeat === 'safe' && !s.changes && d.record(s.id).status === 'succeeded' && ['http', 'exec', 'plugin'].includes(s.spec.action),
  );
  if (refresh === true) return earlier.map((s) => s.id);
  return earlier.filter((s) => refresh.includes(s.id)).map((s) => s.id);
}

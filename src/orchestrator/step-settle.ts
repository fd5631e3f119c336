/**
 * Settling a step: a failure is retried durably or handled by `critical` and `onFailure`; a
 * success follows `next`; the last step finishes the task.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { EscalationReason, FailureClass, StepStatus } from '../lifecycle/vocabulary.js';
import type { CompiledStep } from '../runbook/plan.js';
import { Draft } from './draft.js';
import { release } from './moves.js';
import type { Classified } from './outcome.js';
import { retryVerdict } from './retry-policy.js';
import { startRollback } from './rollback.js';
import { enterStepCursor } from './step-entry.js';
import type { Decision } from './types.js';

export function onFailure(d: Draft, step: CompiledStep, cls: Extract<Classified, { ok: false }>): Decision | null {
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
  // A once step is unsure when this attempt may have taken effect, or an earlier one may have
  // and its probe has not run yet. One that surely did not (never sent) is simply tried again.
  const unsure = step.repeat === 'once' && (cls.maybeApplied || d.cursor.probeFirst === true);
  if (verdict.retry && unsure && !step.probe) {
    d.setStatus(step.id, doubt, cls.message);
    d.escalate({
      kind: 'ambiguous_state',
      failureClass: cls.failureClass,
      step: step.id,
      message: `${step.id} failed (${cls.message}) and is a once step without a probe: it is never replayed blindly`,
    });
    return release(d);
  }
  if (verdict.retry) {
    d.retryUsed += 1;
    d.nextAttemptAt = verdict.at;
    const refresh = refreshList(d, step, verdict.refresh);
    if (unsure) d.cursor.probeFirst = true;
    d.cursor.refresh = refresh;
    d.cursor.phase = refresh.length ? 'refresh' : unsure ? 'probe' : 'action';
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
    return release(d);
  }
  d.setStatus(step.id, doubt, cls.message);
  return failStep(d, step, { reason: verdict.reason, failureClass: cls.failureClass, message: `${step.id}: ${cls.message}; ${verdict.message}` });
}

/** The step's failure is final: `critical`, then `onFailure`, decide what happens to the task. */
export function failStep(
  d: Draft,
  step: CompiledStep,
  f: { reason: EscalationReason; failureClass: FailureClass | null; message: string },
): Decision | null {
  const status = d.record(step.id).status;
  if (status !== 'failed' && status !== 'in_doubt') d.setStatus(step.id, 'failed', f.message);
  d.event('step.failed', step.id, { reason: f.reason, failureClass: f.failureClass, message: f.message });
  // Doubt and policy refusals always go to a person: no rule may paper over them.
  const mustEscalate = f.reason === 'ambiguous_state' || f.reason === 'off_policy';
  if (!step.critical && !mustEscalate) {
    d.cursor.partial = true;
    goToNext(d, step, false);
    return null;
  }
  const mode = mustEscalate ? 'escalate' : step.onFailure.mode;
  switch (mode) {
    case 'continue':
      d.cursor.partial = true;
      goToNext(d, step, false);
      return null;
    case 'goto':
      jumpTo(d, step, (step.onFailure as { target: string }).target);
      return null;
    case 'rollback':
      startRollback(d, step, f);
      return null;
    default:
      d.escalate({ kind: f.reason, failureClass: f.failureClass, step: step.id, message: f.message });
      return release(d);
  }
}

export function internalFailure(d: Draft, step: CompiledStep, message: string): Decision | null {
  d.setStatus(step.id, 'failed', message);
  return failStep(d, step, { reason: 'non_retryable', failureClass: 'internal', message: `${step.id}: ${message}` });
}

export function stepSucceeded(d: Draft, step: CompiledStep, target?: string): Decision | null {
  d.setStatus(step.id, 'succeeded');
  d.event('step.succeeded', step.id, { attempts: d.record(step.id).attempts });
  if (d.cursor.approval?.step === step.id) delete d.cursor.approval;
  if (d.cursor.callback?.step === step.id) delete d.cursor.callback;
  if (target) jumpTo(d, step, target);
  else goToNext(d, step, true);
  return null;
}

export function goToNext(d: Draft, step: CompiledStep, useRules: boolean): void {
  if (useRules && step.next.length) {
    const ctx = d.context(step);
    for (const rule of step.next) {
      let hit: boolean;
      try {
        hit = !rule.when || rule.when.test(ctx);
      } catch {
        hit = false;
      }
      if (hit) return jumpTo(d, step, rule.goto);
    }
  }
  const following = d.plan.steps[step.index + 1];
  if (following) enterStepCursor(d, following.id);
  else finish(d);
}

export function jumpTo(d: Draft, from: CompiledStep, target: string): void {
  const end = target === 'end' ? d.plan.steps.length : d.plan.stepIndex[target];
  if (end === undefined || end <= from.index) throw new Error(`goto ${target} from ${from.id} is not a later step`);
  for (let i = from.index + 1; i < end; i++) {
    const s = d.plan.steps[i]!;
    if (d.record(s.id).status === 'pending') {
      d.setStatus(s.id, 'skipped', `jumped over: ${from.id} went to ${target}`);
      d.event('step.skipped', s.id, { reason: 'goto', from: from.id, to: target });
    }
  }
  if (target === 'end') finish(d);
  else enterStepCursor(d, target);
}

export function finish(d: Draft): void {
  d.currentStep = null;
  delete d.cursor.phase;
  if (d.cursor.partial) {
    const failed = d.plan.steps.filter((s) => ['failed', 'in_doubt'].includes(d.record(s.id).status)).map((s) => s.id);
    d.moveTo('partially_completed');
    d.notice({
      kind: 'partial_completion',
      failureClass: null,
      step: failed[0] ?? null,
      message: `finished with ${failed.length} step(s) not done: ${failed.join(', ')}`,
    });
  } else {
    d.moveTo('completed');
  }
}

export function refreshList(d: Draft, step: CompiledStep, refresh: boolean | string[]): string[] {
  if (refresh === false) return [];
  const earlier = d.plan.steps.filter(
    (s) => s.index < step.index && s.repeat === 'safe' && !s.changes && d.record(s.id).status === 'succeeded' && ['http', 'exec', 'plugin'].includes(s.spec.action),
  );
  if (refresh === true) return earlier.map((s) => s.id);
  return earlier.filter((s) => refresh.includes(s.id)).map((s) => s.id);
}

/**
 * Entering a step: the deadline, the guards, `when`, then what the step is: a `set` computed in
 * place, a `wait` for its callback, an approval gate, the options of a `decide`; then the walk
 * goes on to the probe (a once step that may have taken effect) or the action.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { CompiledStep, ExprContext } from '../runbook/plan.js';
import { renderText } from './captures.js';
import { probesFirst } from './cursor.js';
import type { Draft } from './draft.js';
import { captureAndSucceed, failStep, internalFailure, stepSucceeded } from './settle.js';
import { deadlinePassed, goToNext, RELEASE, WALK_ON, type Progress } from './walk.js';

/** Guards are checked before every step; an expression that cannot be evaluated denies. */
export function guardsDeny(d: Draft, step: CompiledStep, ctx: ExprContext): boolean {
  const guards = d.plan.policy.guards;
  if (guards.length === 0) return false;
  const results = guards.map((g) => {
    try {
      return { name: g.name, denied: g.deny.test(ctx), message: g.message };
    } catch (err) {
      return { name: g.name, denied: true, message: `${g.message} (guard could not be evaluated: ${(err as Error).message})` };
    }
  });
  const denied = results.find((r) => r.denied);
  d.event('guard.checked', step.id, {
    verdict: denied ? 'denied' : 'allowed',
    guards: results.map((r) => ({ name: r.name, denied: r.denied })),
  });
  if (!denied) return false;
  d.setStatus(step.id, 'failed', `guard ${denied.name}: ${denied.message}`);
  d.escalate({ kind: 'off_policy', failureClass: 'off_policy', step: step.id, message: `guard ${denied.name} denied ${step.id}: ${denied.message}` });
  return true;
}

export function enterStep(d: Draft, step: CompiledStep): Progress {
  if (deadlinePassed(d, step)) return RELEASE;
  const ctx = d.context(step);
  if (guardsDeny(d, step, ctx)) return RELEASE;

  if (step.when) {
    let run: boolean;
    try {
      run = step.when.test(ctx);
    } catch (err) {
      return internalFailure(d, step, `when "${step.when.source}" could not be evaluated: ${(err as Error).message}`);
    }
    if (!run) {
      d.setStatus(step.id, 'skipped', `when "${step.when.source}" was false`);
      d.event('step.skipped', step.id, { reason: 'when', when: step.when.source });
      goToNext(d, step, false);
      return WALK_ON;
    }
  }

  const spec = step.spec;
  if (spec.action === 'set') {
    const captures: Record<string, unknown> = {};
    try {
      for (const [name, expr] of Object.entries(spec.with.values)) captures[name] = expr.evaluate(ctx);
    } catch (err) {
      return internalFailure(d, step, `set could not be evaluated: ${(err as Error).message}`);
    }
    d.record(step.id).captures = captures;
    d.setStatus(step.id, 'running');
    d.event('step.started', step.id, {});
    return stepSucceeded(d, step);
  }

  if (spec.action === 'wait') return enterWait(d, step, ctx);

  const gate = spec.action === 'approve' || gateApplies(d, step, ctx);
  if (gate === 'error') return d.state === 'escalated' ? RELEASE : WALK_ON;
  if (gate) {
    const a = d.cursor.step.approval;
    if (!a?.granted) return requestApproval(d, step, ctx);
    if (spec.action === 'approve') {
      d.record(step.id).captures = { approver: a.by ?? null, note: a.note ?? null };
      d.setStatus(step.id, 'running');
      d.event('step.started', step.id, {});
      return stepSucceeded(d, step);
    }
  }

  if (spec.action === 'decide') {
    const offered: string[] = [];
    for (const o of spec.with.options) {
      try {
        if (!o.when || o.when.test(ctx)) offered.push(o.id);
      } catch {
        // An option whose condition cannot be evaluated is simply not offered.
      }
    }
    d.cursor.step.offered = offered;
    if (offered.length === 0) {
      // Nothing to choose from: asking a model would only invite an answer the guard refuses.
      d.setStatus(step.id, 'failed', 'no option is offered in this state');
      d.escalate({ kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `${step.id}: no option's condition holds, so there is nothing to choose from` });
      return RELEASE;
    }
  }

  d.setStatus(step.id, 'running');
  d.event('step.started', step.id, {});
  d.setPhase(step.repeat === 'once' && probesFirst(d.phase) ? { at: 'probing' } : { at: 'attempting' });
  return WALK_ON;
}

/** Whether the step's approval gate applies now; `error` when its `when` cannot be evaluated (then settled). */
export function gateApplies(d: Draft, step: CompiledStep, ctx: ExprContext): boolean | 'error' {
  if (!step.approval) return false;
  if (!step.approval.when) return true;
  try {
    return step.approval.when.test(ctx);
  } catch (err) {
    internalFailure(d, step, `approval.when "${step.approval.when.source}" could not be evaluated: ${(err as Error).message}`);
    return 'error';
  }
}

/** The step waits for a person: `awaiting_approval`, with a notice for the approval packet. */
export function requestApproval(d: Draft, step: CompiledStep, ctx: ExprContext): Progress {
  const spec = step.spec;
  const route = spec.action === 'approve' ? spec.with.route ?? step.route : step.approval?.route ?? step.route;
  let prompt: string | undefined;
  if (spec.action === 'approve' && spec.with.prompt) prompt = renderText(spec.with.prompt, ctx);
  else if (step.approval?.prompt) prompt = step.approval.prompt;
  d.cursor.step.approval = { granted: false };
  d.event('approval.requested', step.id, { route: route ?? null, prompt: prompt ?? null });
  d.moveTo('awaiting_approval');
  // A worker takes the task up again at its deadline (the claim picks up awaiting_approval then),
  // so an approval nobody gives is handed over as deadline_exceeded instead of waiting forever.
  if (d.task.deadlineAt) d.nextAttemptAt = d.task.deadlineAt;
  d.notice({
    kind: 'approval_required',
    failureClass: null,
    step: step.id,
    message: prompt ?? `${step.id} needs an approval before it runs`,
  });
  d.touch();
  return RELEASE;
}

/** A `wait` step: start waiting, keep waiting, take the callback's data, or time out. */
export function enterWait(d: Draft, step: CompiledStep, ctx: ExprContext): Progress {
  if (step.spec.action !== 'wait') throw new Error('not a wait step');
  const phase = d.phase;
  if (phase.at === 'waiting') {
    if (phase.data !== undefined) {
      d.callbackTokenHash = null;
      return captureAndSucceed(d, step, phase.data, ctx);
    }
    if (d.now.getTime() >= Date.parse(phase.timeoutAt)) {
      d.callbackTokenHash = null;
      d.event('callback.timeout', step.id, { timeoutAt: phase.timeoutAt });
      d.setStatus(step.id, 'failed', 'no callback in time');
      return failStep(d, step, {
        reason: 'callback_timeout',
        failureClass: 'timeout',
        message: `no callback for ${step.id} by ${phase.timeoutAt}`,
      });
    }
    d.moveTo('waiting_callback');
    d.nextAttemptAt = wakeAt(d, new Date(phase.timeoutAt));
    return RELEASE;
  }
  const token = (d.cursor.callbackToken ??= d.env.newToken());
  const timeoutAt = new Date(d.now.getTime() + step.spec.with.withinMs);
  d.setPhase({ at: 'waiting', timeoutAt: timeoutAt.toISOString() });
  d.callbackTokenHash = d.env.hashToken(token);
  d.nextAttemptAt = wakeAt(d, timeoutAt);
  d.setStatus(step.id, 'running');
  d.event('step.started', step.id, {});
  d.event('callback.waiting', step.id, { timeoutAt: timeoutAt.toISOString() });
  d.moveTo('waiting_callback');
  return RELEASE;
}

/** A wait wakes at its own timeout, or at the task's deadline when that comes first. */
function wakeAt(d: Draft, timeoutAt: Date): Date {
  const deadline = d.task.deadlineAt;
  return deadline && deadline.getTime() < timeoutAt.getTime() ? deadline : timeoutAt;
}

/**
 * Entering a step (guards, `when`, approval gates, waits) and starting its attempts: the action, the
 * probe of a `once` step, verification checks and the refresh of earlier safe steps.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { CompiledStep, ExprContext } from '../runbook/plan.js';
import { DEFAULT_AGENT_CALL_CAP, applyFallback } from './agent-step.js';
import { Draft } from './draft.js';
import { release, renderText } from './moves.js';
import { captureAndSucceed } from './step-outcome.js';
import { failStep, goToNext, internalFailure, stepSucceeded } from './step-settle.js';
import type { Decision } from './types.js';

export function enterStepCursor(d: Draft, id: string): void {
  const c = d.cursor;
  d.currentStep = id;
  c.phase = 'enter';
  delete c.failures;
  delete c.verify;
  delete c.refresh;
  delete c.probeFirst;
  delete c.offered;
  delete c.key;
  if (c.approval && c.approval.step !== id) delete c.approval;
  d.touch();
}

export function deadlinePassed(d: Draft, step: CompiledStep | null): boolean {
  const deadline = d.task.deadlineAt;
  if (!deadline || d.now.getTime() < deadline.getTime()) return false;
  d.escalate({
    kind: 'deadline_exceeded',
    failureClass: null,
    step: step?.id ?? null,
    message: `the task's deadline ${deadline.toISOString()} passed${step ? ` before ${step.id} could finish` : ''}`,
  });
  return true;
}

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

export function enterStep(d: Draft, step: CompiledStep): Decision | null {
  if (deadlinePassed(d, step)) return release(d);
  const ctx = d.context(step);
  if (guardsDeny(d, step, ctx)) return release(d);

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
      return null;
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
  if (gate === 'error') return d.state === 'escalated' ? release(d) : null;
  if (gate) {
    const a = d.cursor.approval;
    if (!(a && a.step === step.id && a.granted)) return requestApproval(d, step, ctx);
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
    d.cursor.offered = offered;
    if (offered.length === 0) {
      // Nothing to choose from: asking a model would only invite an answer the guard refuses.
      d.setStatus(step.id, 'failed', 'no option is offered in this state');
      d.escalate({ kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `${step.id}: no option's condition holds, so there is nothing to choose from` });
      return release(d);
    }
  }

  d.setStatus(step.id, 'running');
  d.event('step.started', step.id, {});
  d.cursor.phase = step.repeat === 'once' && d.cursor.probeFirst ? 'probe' : 'action';
  return null;
}

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

export function requestApproval(d: Draft, step: CompiledStep, ctx: ExprContext): Decision {
  const spec = step.spec;
  const route = spec.action === 'approve' ? spec.with.route ?? step.route : step.approval?.route ?? step.route;
  let prompt: string | undefined;
  if (spec.action === 'approve' && spec.with.prompt) prompt = renderText(spec.with.prompt, ctx);
  else if (step.approval?.prompt) prompt = step.approval.prompt;
  d.cursor.approval = { step: step.id, granted: false };
  d.event('approval.requested', step.id, { route: route ?? null, prompt: prompt ?? null });
  d.moveTo('awaiting_approval');
  d.notice({
    kind: 'approval_required',
    failureClass: null,
    step: step.id,
    message: prompt ?? `${step.id} needs an approval before it runs`,
  });
  d.touch();
  return release(d);
}

export function enterWait(d: Draft, step: CompiledStep, ctx: ExprContext): Decision | null {
  if (step.spec.action !== 'wait') throw new Error('not a wait step');
  const cb = d.cursor.callback;
  if (cb && cb.step === step.id) {
    if (cb.data !== undefined) {
      d.callbackTokenHash = null;
      return captureAndSucceed(d, step, cb.data, ctx);
    }
    if (d.now.getTime() >= Date.parse(cb.timeoutAt)) {
      d.callbackTokenHash = null;
      d.event('callback.timeout', step.id, { timeoutAt: cb.timeoutAt });
      d.setStatus(step.id, 'failed', 'no callback in time');
      return failStep(d, step, {
        reason: 'callback_timeout',
        failureClass: 'timeout',
        message: `no callback for ${step.id} by ${cb.timeoutAt}`,
      });
    }
    d.moveTo('waiting_callback');
    d.nextAttemptAt = new Date(cb.timeoutAt);
    return release(d);
  }
  const token = (d.cursor.callbackToken ??= d.env.newToken());
  const timeoutAt = new Date(d.now.getTime() + step.spec.with.withinMs);
  d.cursor.callback = { step: step.id, token, timeoutAt: timeoutAt.toISOString() };
  d.callbackTokenHash = d.env.hashToken(token);
  d.nextAttemptAt = timeoutAt;
  d.setStatus(step.id, 'running');
  d.event('step.started', step.id, {});
  d.event('callback.waiting', step.id, { timeoutAt: timeoutAt.toISOString() });
  d.moveTo('waiting_callback');
  return release(d);
}

export function idempotencyKey(d: Draft, step: CompiledStep, ctx: ExprContext): string | null {
  if (step.repeat !== 'keyed') return null;
  // Computed once per step and kept, so retries and crash recovery send the same key.
  if (d.cursor.key) return d.cursor.key;
  const tpl = step.spec.action === 'http' ? step.spec.with.idempotencyKey : undefined;
  const key = tpl ? renderText(tpl, ctx) : `${d.task.id}:${step.id}`;
  d.cursor.key = key;
  return key;
}

/** A stopping worker starts nothing new: the task goes back for another worker. */
export function yieldIfStopping(d: Draft): Decision | null {
  if (!d.env.stopping) return null;
  d.event('lease.released', d.currentStep, { why: 'worker stopping' });
  if (d.state === 'running') d.moveTo('queued');
  return release(d);
}

export function startAction(d: Draft, step: CompiledStep): Decision | null {
  const yielded = yieldIfStopping(d);
  if (yielded) return yielded;
  if (deadlinePassed(d, step)) return release(d);
  if (step.spec.action === 'decide') {
    const cap = d.env.agentCallCap ?? DEFAULT_AGENT_CALL_CAP;
    if ((d.cursor.agentCalls ?? 0) >= cap) return applyFallback(d, step, `the task's cap of ${cap} model calls is reached`, 'budget_exhausted');
    // Counted when the call starts, durably with the attempt, so a crash mid-call still counts.
    d.cursor.agentCalls = (d.cursor.agentCalls ?? 0) + 1;
  }
  const ctx = d.context(step);
  let key: string | null;
  try {
    key = idempotencyKey(d, step, ctx);
  } catch (err) {
    return internalFailure(d, step, `idempotencyKey could not be rendered: ${(err as Error).message}`) ?? release(d);
  }
  const attempt = d.nextAttemptNo('action', step.id);
  d.record(step.id).attempts = attempt;
  d.setStatus(step.id, 'running');
  d.startAttempt = { step: step.id, kind: 'action', attempt, idempotencyKey: key };
  d.event('attempt.started', step.id, { kind: 'action', attempt, idempotencyKey: key });
  return {
    commit: d.commit()!,
    next: {
      type: 'perform',
      attempt: d.startAttempt,
      spec: step.spec,
      ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    },
  };
}

export function startProbe(d: Draft, step: CompiledStep): Decision {
  const probe = step.probe;
  if (!probe) {
    d.setStatus(step.id, 'in_doubt', 'no probe');
    d.escalate({ kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `${step.id} may have taken effect and has no probe to tell` });
    return release(d);
  }
  const yielded = yieldIfStopping(d);
  if (yielded) return yielded;
  if (deadlinePassed(d, step)) return release(d);
  const attempt = d.nextAttemptNo('probe', step.id);
  d.startAttempt = { step: step.id, kind: 'probe', attempt, idempotencyKey: null };
  d.event('attempt.started', step.id, { kind: 'probe', attempt });
  return {
    commit: d.commit()!,
    next: { type: 'perform', attempt: d.startAttempt, spec: probe.spec, ...(probe.timeoutMs !== undefined ? { timeoutMs: probe.timeoutMs } : {}) },
  };
}

export function startVerify(d: Draft, step: CompiledStep): Decision | null {
  const v = (d.cursor.verify ??= { index: 0, startedAt: d.nowIso, polls: 0 });
  const check = step.verify[v.index];
  if (!check) return stepSucceeded(d, step);
  const yielded = yieldIfStopping(d);
  if (yielded) return yielded;
  if (deadlinePassed(d, step)) return release(d);
  const attempt = d.nextAttemptNo('verify', step.id);
  d.startAttempt = { step: step.id, kind: 'verify', attempt, idempotencyKey: null };
  d.event('attempt.started', step.id, { kind: 'verify', attempt, check: check.id });
  const timeoutMs = check.timeoutMs ?? step.timeoutMs;
  return {
    commit: d.commit()!,
    next: { type: 'perform', attempt: d.startAttempt, spec: check.spec, check: check.id, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
  };
}

export function startRefresh(d: Draft, step: CompiledStep): Decision | null {
  const id = d.cursor.refresh?.[0];
  if (!id) {
    delete d.cursor.refresh;
    d.cursor.phase = step.repeat === 'once' && d.cursor.probeFirst ? 'probe' : 'action';
    return null;
  }
  const yielded = yieldIfStopping(d);
  if (yielded) return yielded;
  const target = d.step(id);
  const attempt = d.nextAttemptNo('refresh', id);
  d.startAttempt = { step: id, kind: 'refresh', attempt, idempotencyKey: null };
  d.event('attempt.started', id, { kind: 'refresh', attempt, for: step.id });
  return {
    commit: d.commit()!,
    next: { type: 'perform', attempt: d.startAttempt, spec: target.spec, ...(target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {}) },
  };
}

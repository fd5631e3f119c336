/**
 * The orchestrator's decision: (task, compiled runbook, event, env) -> one checkpoint and what to
 * do next. Pure: no I/O, no clock, no randomness but what `env` passes in, so it gets fast unit
 * tests and recorded ledgers can be replayed through it.
 *
 * The walk for one step: enter (guards, `when`, approval, wait) -> refresh (before a retry) ->
 * probe (a `once` step whose effect may have happened) -> action -> verify -> next. A failure is
 * classified, then retried (durably: `retry_scheduled`), or handled by `onFailure`.
 */
import type { EscalationReason, FailureClass, StepStatus } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep, ExprContext, Template } from '../runbook/plan.js';
import { classify, describeResult, type Classified, type RawOutcome } from './outcome.js';
import { Draft } from './draft.js';
import { retryVerdict } from './retry-policy.js';
import { observe } from './observe.js';
import { evaluateCheck, evaluateProbe, pollAgain } from '../verifiers/index.js';
import { formatDuration } from '../runbook/duration.js';
import type { DecideEnv, Decision, OpenAttempt, OrchestratorEvent, TaskView } from './types.js';
import { judgeProposal, quote, type Judgement } from './agent-guard.js';

/** Compensations of transient failures tried in place before the rollback escalates. */
export const COMPENSATION_TRIES = 3;

/** Model calls one task may make in all when `DecideEnv.agentCallCap` does not say. */
export const DEFAULT_AGENT_CALL_CAP = 10;

export function decide(task: TaskView, plan: CompiledRunbook, event: OrchestratorEvent, env: DecideEnv): Decision {
  const d = new Draft(task, plan, env);
  if (!d.cursor.callbackToken && plan.steps.some((s) => s.spec.action === 'wait')) {
    d.cursor.callbackToken = env.newToken();
    d.touch();
  }
  if (event.kind === 'claimed') {
    for (const open of event.openAttempts) onInDoubt(d, open);
  } else if (event.kind === 'finished') {
    const early = onFinished(d, event.attempt.kind, event.attempt.step, event.attempt.attempt, event.attempt.idempotencyKey, event.outcome, event.durationMs);
    if (early) return early;
  }
  return advance(d);
}

// ---------------------------------------------------------------------------------------------
// Walking forward

function advance(d: Draft): Decision {
  // Bounded: each pass settles a step or returns; a runbook has no loops.
  for (let pass = 0; pass <= d.plan.steps.length * 4 + 8; pass++) {
    if (d.task.cancelRequested && ['running', 'compensating', 'retry_scheduled', 'waiting_callback', 'awaiting_approval'].includes(d.state)) {
      // An operator cancelled while this worker held the task: stop at this safe point.
      d.moveTo('cancelled');
      return release(d);
    }
    if (d.state !== 'running' && d.state !== 'compensating') return release(d);
    if (d.state === 'compensating') return compensateNext(d);
    if (d.currentStep === null) {
      const first = d.plan.steps[0];
      if (!first) {
        finish(d);
        continue;
      }
      enterStepCursor(d, first.id);
    }
    const step = d.current()!;
    const decision = stepPhase(d, step);
    if (decision) return decision;
  }
  throw new Error(`decision for task ${d.task.id} did not settle`);
}

function stepPhase(d: Draft, step: CompiledStep): Decision | null {
  switch (d.cursor.phase ?? 'enter') {
    case 'enter':
      return enterStep(d, step);
    case 'refresh':
      return startRefresh(d, step);
    case 'probe':
      return startProbe(d, step);
    case 'action':
      return startAction(d, step);
    case 'verify':
      return startVerify(d, step);
    case 'next':
      goToNext(d, step, true);
      return null;
  }
}

function release(d: Draft): Decision {
  const commit = d.commit();
  return commit ? { commit, next: { type: 'release' } } : { next: { type: 'release' } };
}

function enterStepCursor(d: Draft, id: string): void {
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

function deadlinePassed(d: Draft, step: CompiledStep | null): boolean {
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
function guardsDeny(d: Draft, step: CompiledStep, ctx: ExprContext): boolean {
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

function enterStep(d: Draft, step: CompiledStep): Decision | null {
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

function gateApplies(d: Draft, step: CompiledStep, ctx: ExprContext): boolean | 'error' {
  if (!step.approval) return false;
  if (!step.approval.when) return true;
  try {
    return step.approval.when.test(ctx);
  } catch (err) {
    internalFailure(d, step, `approval.when "${step.approval.when.source}" could not be evaluated: ${(err as Error).message}`);
    return 'error';
  }
}

function requestApproval(d: Draft, step: CompiledStep, ctx: ExprContext): Decision {
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

function enterWait(d: Draft, step: CompiledStep, ctx: ExprContext): Decision | null {
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

function idempotencyKey(d: Draft, step: CompiledStep, ctx: ExprContext): string | null {
  if (step.repeat !== 'keyed') return null;
  // Computed once per step and kept, so retries and crash recovery send the same key.
  if (d.cursor.key) return d.cursor.key;
  const tpl = step.spec.action === 'http' ? step.spec.with.idempotencyKey : undefined;
  const key = tpl ? renderText(tpl, ctx) : `${d.task.id}:${step.id}`;
  d.cursor.key = key;
  return key;
}

/** A stopping worker starts nothing new: the task goes back for another worker. */
function yieldIfStopping(d: Draft): Decision | null {
  if (!d.env.stopping) return null;
  d.event('lease.released', d.currentStep, { why: 'worker stopping' });
  if (d.state === 'running') d.moveTo('queued');
  return release(d);
}

function startAction(d: Draft, step: CompiledStep): Decision | null {
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

function startProbe(d: Draft, step: CompiledStep): Decision {
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

function startVerify(d: Draft, step: CompiledStep): Decision | null {
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

function startRefresh(d: Draft, step: CompiledStep): Decision | null {
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

// ---------------------------------------------------------------------------------------------
// Outcomes

function onFinished(
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

function onActionSucceeded(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Decision | null {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = captured.values;
  if (step.verify.length > 0) {
    d.cursor.phase = 'verify';
    d.cursor.verify = { index: 0, startedAt: d.nowIso, polls: 0 };
    return null;
  }
  return stepSucceeded(d, step);
}

function captureAndSucceed(d: Draft, step: CompiledStep, result: unknown, ctx: ExprContext): Decision | null {
  const captured = evaluateCaptures(step.capture, { ...ctx, result });
  if ('error' in captured) return internalFailure(d, step, captured.error);
  d.record(step.id).captures = Object.keys(step.capture).length ? captured.values : asRecord(result);
  return stepSucceeded(d, step);
}

function onVerified(
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

function onProbed(
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
    if (step.verify.length > 0) {
      d.cursor.phase = 'verify';
      d.cursor.verify = { index: 0, startedAt: d.nowIso, polls: 0 };
      return null;
    }
    return stepSucceeded(d, step);
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

function onDecided(d: Draft, step: CompiledStep, cls: Classified, raw: RawOutcome): Decision | null {
  if (step.spec.action !== 'decide') throw new Error('not a decide step');
  if (raw.kind === 'error' && raw.code === 'NO_MODEL') {
    // No call was made: give back the one counted when the attempt started.
    if (d.cursor.agentCalls) d.cursor.agentCalls -= 1;
    return applyFallback(d, step, 'no model is configured', 'ambiguous_state');
  }
  if (raw.kind === 'error' && raw.agent) {
    d.event('agent.call', step.id, { model: raw.agent.model, latencyMs: raw.agent.latencyMs ?? null, tokens: null, ok: false, error: raw.message });
  }
  // A model that failed without answering chose nothing: the retry policy, then escalation.
  if (!cls.ok) return onFailure(d, step, cls);
  const r = asRecord(cls.result);
  const model = typeof r.model === 'string' ? r.model : null;
  const tokens = asRecord(r.tokens ?? {});
  d.event('agent.call', step.id, {
    model,
    latencyMs: typeof r.latencyMs === 'number' ? r.latencyMs : null,
    tokens: { input: typeof tokens.input === 'number' ? tokens.input : null, output: typeof tokens.output === 'number' ? tokens.output : null },
    ok: true,
  });
  const proposal = {
    model,
    option: r.option ?? null,
    rationale: r.rationale ?? null,
    confidence: r.confidence ?? null,
    ...(typeof r.raw === 'string' && r.raw ? { raw: r.raw } : {}),
  };
  return applyJudgement(d, step, judgeProposal(step.spec.with, d.cursor.offered ?? [], r), proposal);
}

/**
 * Without a model's answer (none configured, or the task's call cap reached): the runbook's
 * `fallback` option goes through the same guard as a proposal; `escalate` hands over.
 */
function applyFallback(d: Draft, step: CompiledStep, reason: string, kind: 'ambiguous_state' | 'budget_exhausted'): Decision | null {
  if (step.spec.action !== 'decide') throw new Error('not a decide step');
  const fallback = step.fallback ?? 'escalate';
  if (fallback === 'escalate') {
    d.event('agent.proposal', step.id, { model: null, option: null, rationale: null, confidence: null, offered: d.cursor.offered ?? [], accepted: false, verdict: 'fallback', fallback, why: `${reason}; fallback: escalate` });
    d.setStatus(step.id, 'failed', `${reason}; fallback escalate`);
    d.escalate({ kind, failureClass: kind === 'ambiguous_state' ? 'ambiguous' : null, step: step.id, message: `${step.id} needs a decision and ${reason} (fallback: escalate)` });
    return release(d);
  }
  const choice = { option: fallback, rationale: `runbook fallback: ${reason}`, confidence: 1 };
  return applyJudgement(d, step, judgeProposal(step.spec.with, d.cursor.offered ?? [], choice), { model: null, ...choice, fallback });
}

/** Records the guard's verdict and does what it allows. The proposal's text goes to the ledger only. */
function applyJudgement(d: Draft, step: CompiledStep, j: Judgement, proposal: Record<string, unknown>): Decision | null {
  const event = { ...proposal, offered: d.cursor.offered ?? [], accepted: j.verdict === 'accepted', verdict: j.verdict, why: j.why };
  d.event('agent.proposal', step.id, event);
  if (j.verdict !== 'accepted') {
    const refused = j.verdict === 'off_policy';
    d.setStatus(step.id, 'failed', refused ? `refused proposal ${quote(proposal.option)}` : 'low confidence');
    d.escalate(
      refused
        ? { kind: 'off_policy', failureClass: 'off_policy', step: step.id, message: `proposal ${quote(proposal.option)} refused: ${j.why}` }
        : { kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `proposal ${quote(proposal.option)}: ${j.why}` },
    );
    return release(d);
  }
  // The option's id (the runbook's own word) and the confidence; never the rationale, so no
  // text of the model's can reach a later step's parameters through `steps.<id>`.
  d.record(step.id).captures = { option: j.option.id, confidence: proposal.confidence };
  if (j.option.escalate) {
    d.setStatus(step.id, 'succeeded');
    d.escalate({ kind: 'ambiguous_state', failureClass: null, step: step.id, message: `${step.id}: option "${j.option.id}" hands the task to a person` });
    return release(d);
  }
  return stepSucceeded(d, step, j.option.goto);
}

function onCompensated(d: Draft, step: CompiledStep, cls: Classified): Decision | null {
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

// ---------------------------------------------------------------------------------------------
// Failures, success and the next step

function onFailure(d: Draft, step: CompiledStep, cls: Extract<Classified, { ok: false }>): Decision | null {
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
  if (verdict.retry && step.repeat === 'once' && !step.probe) {
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
    if (step.repeat === 'once') d.cursor.probeFirst = true;
    d.cursor.refresh = refresh;
    d.cursor.phase = refresh.length ? 'refresh' : step.repeat === 'once' ? 'probe' : 'action';
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
function failStep(
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

function internalFailure(d: Draft, step: CompiledStep, message: string): Decision | null {
  d.setStatus(step.id, 'failed', message);
  return failStep(d, step, { reason: 'non_retryable', failureClass: 'internal', message: `${step.id}: ${message}` });
}

function stepSucceeded(d: Draft, step: CompiledStep, target?: string): Decision | null {
  d.setStatus(step.id, 'succeeded');
  d.event('step.succeeded', step.id, { attempts: d.record(step.id).attempts });
  if (d.cursor.approval?.step === step.id) delete d.cursor.approval;
  if (d.cursor.callback?.step === step.id) delete d.cursor.callback;
  if (target) jumpTo(d, step, target);
  else goToNext(d, step, true);
  return null;
}

function goToNext(d: Draft, step: CompiledStep, useRules: boolean): void {
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

function jumpTo(d: Draft, from: CompiledStep, target: string): void {
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

function finish(d: Draft): void {
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

// ---------------------------------------------------------------------------------------------
// Rollback

function startRollback(
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

function compensateNext(d: Draft): Decision {
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

// ---------------------------------------------------------------------------------------------
// Recovery

/** An attempt that started and has no outcome: the worker stopped mid-attempt. */
function onInDoubt(d: Draft, open: OpenAttempt): void {
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
      d.cursor.probeFirst = true;
      d.cursor.phase = 'probe';
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

// ---------------------------------------------------------------------------------------------
// Helpers

function refreshList(d: Draft, step: CompiledStep, refresh: boolean | string[]): string[] {
  if (refresh === false) return [];
  const earlier = d.plan.steps.filter(
    (s) => s.index < step.index && s.repeat === 'safe' && !s.changes && d.record(s.id).status === 'succeeded' && ['http', 'exec', 'plugin'].includes(s.spec.action),
  );
  if (refresh === true) return earlier.map((s) => s.id);
  return earlier.filter((s) => refresh.includes(s.id)).map((s) => s.id);
}

function evaluateCaptures(
  capture: Record<string, { evaluate(ctx: ExprContext): unknown; source: string }>,
  ctx: ExprContext,
): { values: Record<string, unknown> } | { error: string } {
  const values: Record<string, unknown> = {};
  for (const [name, expr] of Object.entries(capture)) {
    try {
      values[name] = expr.evaluate(ctx);
    } catch (err) {
      return { error: `capture ${name} ("${expr.source}") could not be evaluated: ${(err as Error).message}` };
    }
  }
  return { values };
}

function renderText(t: Template, ctx: ExprContext): string {
  const v = t.render(ctx);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}


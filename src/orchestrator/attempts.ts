/**
 * Starting attempts: the step's action, the probe of a once step, verification checks and the
 * refresh of earlier safe steps. Each start is recorded with the checkpoint before it runs, so a
 * crash leaves an attempt in doubt, never a silent one.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import { DEFAULT_TIMEOUT_MS } from '../agents/executor.js';
import type { ActionSpec, CompiledRunbook, CompiledStep, ExprContext } from '../runbook/plan.js';
import { DEFAULT_AGENT_CALL_CAP, applyFallback } from './agent-step.js';
import { renderText } from './captures.js';
import { probesFirst } from './cursor.js';
import type { Draft } from './draft.js';
import { internalFailure, stepSucceeded, verifying } from './settle.js';
import { roleOfAttempt } from './roles.js';
import { deadlinePassed, RELEASE, stop, WALK_ON, yieldsToRole, yieldsToStop, type Progress } from './walk.js';

/** How long an action may take when nothing says: its system's timeout, else the executor's default. */
function defaultTimeout(plan: CompiledRunbook, spec: ActionSpec): number {
  if (spec.action === 'http' && spec.with.system) return plan.systems[spec.with.system]?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return DEFAULT_TIMEOUT_MS;
}

/**
 * The timeout an attempt runs with: its own (`explicit`, else the default the executor applies),
 * capped by what is left of the task's deadline, so no attempt can outrun it. Left out when it is
 * the executor's default anyway.
 */
function timeoutFor(d: Draft, spec: ActionSpec, explicit: number | undefined): { timeoutMs?: number } {
  const own = explicit !== undefined ? { timeoutMs: explicit } : {};
  const deadline = d.task.deadlineAt;
  if (!deadline) return own;
  const left = deadline.getTime() - d.now.getTime();
  return left < (explicit ?? defaultTimeout(d.plan, spec)) ? { timeoutMs: Math.max(1, left) } : own;
}

/** The step's idempotency key (`keyed` steps): rendered once and kept, so every replay sends the same. */
export function idempotencyKey(d: Draft, step: CompiledStep, ctx: ExprContext): string | null {
  if (step.repeat !== 'keyed') return null;
  if (d.cursor.step.key) return d.cursor.step.key;
  const tpl = step.spec.action === 'http' ? step.spec.with.idempotencyKey : undefined;
  const key = tpl ? renderText(tpl, ctx) : `${d.task.id}:${step.id}`;
  d.cursor.step.key = key;
  return key;
}

export function startAction(d: Draft, step: CompiledStep): Progress {
  if (yieldsToStop(d) || deadlinePassed(d, step) || yieldsToRole(d, roleOfAttempt('action', step))) return RELEASE;
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
    const settled = internalFailure(d, step, `idempotencyKey could not be rendered: ${(err as Error).message}`);
    // The key's step is failed either way; a walk that would go on stops here and goes on at the next claim.
    return settled.kind === 'stop' ? settled : RELEASE;
  }
  const attempt = d.nextAttemptNo('action', step.id);
  d.record(step.id).attempts = attempt;
  d.setStatus(step.id, 'running');
  d.startAttempt = { step: step.id, kind: 'action', attempt, idempotencyKey: key };
  d.event('attempt.started', step.id, { kind: 'action', attempt, idempotencyKey: key });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: step.spec, ...timeoutFor(d, step.spec, step.timeoutMs) });
}

export function startProbe(d: Draft, step: CompiledStep): Progress {
  const probe = step.probe;
  if (!probe) {
    d.setStatus(step.id, 'in_doubt', 'no probe');
    d.escalate({ kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `${step.id} may have taken effect and has no probe to tell` });
    return RELEASE;
  }
  if (yieldsToStop(d) || deadlinePassed(d, step) || yieldsToRole(d, 'verification')) return RELEASE;
  const attempt = d.nextAttemptNo('probe', step.id);
  d.startAttempt = { step: step.id, kind: 'probe', attempt, idempotencyKey: null };
  d.event('attempt.started', step.id, { kind: 'probe', attempt });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: probe.spec, ...timeoutFor(d, probe.spec, probe.timeoutMs) });
}

export function startVerify(d: Draft, step: CompiledStep): Progress {
  const v = verifying(d);
  const check = step.verify[v.check];
  if (!check) return stepSucceeded(d, step);
  if (yieldsToStop(d) || deadlinePassed(d, step) || yieldsToRole(d, 'verification')) return RELEASE;
  const attempt = d.nextAttemptNo('verify', step.id);
  d.startAttempt = { step: step.id, kind: 'verify', attempt, idempotencyKey: null };
  d.event('attempt.started', step.id, { kind: 'verify', attempt, check: check.id });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: check.spec, check: check.id, ...timeoutFor(d, check.spec, check.timeoutMs ?? step.timeoutMs) });
}

export function startRefresh(d: Draft, step: CompiledStep): Progress {
  const phase = d.phase;
  const id = phase.at === 'refreshing' ? phase.queue[0] : undefined;
  if (!id) {
    d.setPhase(step.repeat === 'once' && probesFirst(phase) ? { at: 'probing' } : { at: 'attempting' });
    return WALK_ON;
  }
  if (yieldsToStop(d) || deadlinePassed(d, step) || yieldsToRole(d, 'execution')) return RELEASE;
  const target = d.step(id);
  const attempt = d.nextAttemptNo('refresh', id);
  d.startAttempt = { step: id, kind: 'refresh', attempt, idempotencyKey: null };
  d.event('attempt.started', id, { kind: 'refresh', attempt, for: step.id });
  return stop({ type: 'perform', attempt: d.startAttempt, spec: target.spec, ...timeoutFor(d, target.spec, target.timeoutMs) });
}

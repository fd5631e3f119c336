/**
 * A `decide` step's answer through the policy guard: follow an offered option, refuse anything
 * else as off_policy, escalate low confidence; the runbook's fallback when there is no model.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { CompiledStep } from '../runbook/plan.js';
import { judgeProposal, quote } from './agent-guard.js';
import type { Judgement } from './agent-guard.js';
import { asRecord } from './captures.js';
import type { Draft } from './draft.js';
import type { Classified, RawOutcome } from './outcome.js';
import { onFailure, stepSucceeded } from './settle.js';
import { RELEASE, type Progress } from './walk.js';

/** Model calls one task may make in all when `DecideEnv.agentCallCap` does not say. */
export const DEFAULT_AGENT_CALL_CAP = 10;

export function onDecided(d: Draft, step: CompiledStep, cls: Classified, raw: RawOutcome): Progress {
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
  return applyJudgement(d, step, judgeProposal(step.spec.with, d.cursor.step.offered ?? [], r), proposal);
}

/**
 * Without a model's answer (none configured, or the task's call cap reached): the runbook's
 * `fallback` option goes through the same guard as a proposal; `escalate` hands over.
 */
export function applyFallback(d: Draft, step: CompiledStep, reason: string, kind: 'ambiguous_state' | 'budget_exhausted'): Progress {
  if (step.spec.action !== 'decide') throw new Error('not a decide step');
  const fallback = step.fallback ?? 'escalate';
  if (fallback === 'escalate') {
    d.event('agent.proposal', step.id, { model: null, option: null, rationale: null, confidence: null, offered: d.cursor.step.offered ?? [], accepted: false, verdict: 'fallback', fallback, why: `${reason}; fallback: escalate` });
    d.setStatus(step.id, 'failed', `${reason}; fallback escalate`);
    d.escalate({ kind, failureClass: kind === 'ambiguous_state' ? 'ambiguous' : null, step: step.id, message: `${step.id} needs a decision and ${reason} (fallback: escalate)` });
    return RELEASE;
  }
  const choice = { option: fallback, rationale: `runbook fallback: ${reason}`, confidence: 1 };
  return applyJudgement(d, step, judgeProposal(step.spec.with, d.cursor.step.offered ?? [], choice), { model: null, ...choice, fallback });
}

/** Records the guard's verdict and does what it allows. The proposal's text goes to the ledger only. */
export function applyJudgement(d: Draft, step: CompiledStep, j: Judgement, proposal: Record<string, unknown>): Progress {
  const event = { ...proposal, offered: d.cursor.step.offered ?? [], accepted: j.verdict === 'accepted', verdict: j.verdict, why: j.why };
  d.event('agent.proposal', step.id, event);
  if (j.verdict !== 'accepted') {
    const refused = j.verdict === 'off_policy';
    d.setStatus(step.id, 'failed', refused ? `refused proposal ${quote(proposal.option)}` : 'low confidence');
    d.escalate(
      refused
        ? { kind: 'off_policy', failureClass: 'off_policy', step: step.id, message: `proposal ${quote(proposal.option)} refused: ${j.why}` }
        : { kind: 'ambiguous_state', failureClass: 'ambiguous', step: step.id, message: `proposal ${quote(proposal.option)}: ${j.why}` },
    );
    return RELEASE;
  }
  // The option's id (the runbook's own word) and the confidence; never the rationale, so no
  // text of the model's can reach a later step's parameters through `steps.<id>`.
  d.record(step.id).captures = { option: j.option.id, confidence: proposal.confidence };
  if (j.option.escalate) {
    d.setStatus(step.id, 'succeeded');
    d.escalate({ kind: 'ambiguous_state', failureClass: null, step: step.id, message: `${step.id}: option "${j.option.id}" hands the task to a person` });
    return RELEASE;
  }
  return stepSucceeded(d, step, j.option.goto);
}

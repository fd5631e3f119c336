/**
 * The policy guard between an agent's proposal and any action (runbook-format.md, "Agentic
 * decisions"). Pure: it reads the proposal as untrusted data and says whether the orchestrator
 * may follow it. An answer that does not parse, came too late, names an option that does not
 * exist or was not offered is `off_policy`; confidence under `minConfidence` is `ambiguous`.
 */
import { trim } from './outcome.js';
import type { DecideOption, DecideWith } from '../runbook/plan.js';

/** What the guard (or the fallback) made of a decision; the `verdict` of `agent.proposal` events. */
export const AGENT_VERDICTS = ['accepted', 'off_policy', 'ambiguous', 'fallback'] as const;
export type AgentVerdict = (typeof AGENT_VERDICTS)[number];

export type Judgement =
  | { verdict: 'accepted'; option: DecideOption; why: string }
  | { verdict: 'off_policy' | 'ambiguous'; why: string };

/** A proposal as it arrived: every field is the model's and unchecked. */
export interface ProposalFields {
  option?: unknown;
  rationale?: unknown;
  confidence?: unknown;
  /** Set by the executor or agent when the answer could not be read or came too late. */
  problem?: unknown;
}

export function judgeProposal(spec: DecideWith, offered: readonly string[], p: ProposalFields): Judgement {
  if (typeof p.problem === 'string' && p.problem) return { verdict: 'off_policy', why: p.problem };
  const bad: string[] = [];
  if (typeof p.option !== 'string' || !p.option) bad.push('option is not a non-empty string');
  if (typeof p.rationale !== 'string') bad.push('rationale is not a string');
  if (typeof p.confidence !== 'number' || !(p.confidence >= 0 && p.confidence <= 1)) bad.push('confidence is not a number from 0 to 1');
  if (bad.length) return { verdict: 'off_policy', why: `the answer does not parse: ${bad.join('; ')}` };
  const option = spec.options.find((o) => o.id === p.option);
  if (!option) return { verdict: 'off_policy', why: `${quote(p.option)} is not an option of this step` };
  if (!offered.includes(option.id)) return { verdict: 'off_policy', why: `${quote(option.id)} is not offered in this state (offered: ${offered.join(', ') || 'none'})` };
  const confidence = p.confidence as number;
  if (confidence < spec.minConfidence) return { verdict: 'ambiguous', why: `confidence ${confidence} is under ${spec.minConfidence}` };
  return { verdict: 'accepted', option, why: `${option.id} is offered and confidence ${confidence} reaches ${spec.minConfidence}` };
}

/** A model's string, shortened and quoted for messages (it may be long, or crafted). */
export function quote(v: unknown): string {
  return JSON.stringify(trim(typeof v === 'string' ? v : JSON.stringify(v ?? null), 80));
}

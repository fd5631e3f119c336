import { describe, expect, it } from 'vitest';
import { judgeProposal } from './agent-guard.js';
import type { DecideWith } from '../runbook/plan.js';

const spec: DecideWith = {
  question: 'which?',
  show: [],
  options: [
    { id: 'restart', goto: 'restart', escalate: false },
    { id: 'failover', goto: 'failover', escalate: false },
    { id: 'hand-to-human', escalate: true },
  ],
  minConfidence: 0.7,
};
const offered = ['restart', 'hand-to-human'];
const answer = (over: Record<string, unknown> = {}) => ({ option: 'restart', rationale: 'degraded', confidence: 0.9, ...over });

describe('judgeProposal', () => {
  it('accepts an offered option with enough confidence, and hands back the runbook option', () => {
    const j = judgeProposal(spec, offered, answer());
    expect(j.verdict).toBe('accepted');
    expect(j.verdict === 'accepted' && j.option).toEqual(spec.options[0]);
  });

  it('accepts confidence exactly at minConfidence', () => {
    expect(judgeProposal(spec, offered, answer({ confidence: 0.7 })).verdict).toBe('accepted');
  });

  it('refuses an option of the step that was not offered', () => {
    expect(judgeProposal(spec, offered, answer({ option: 'failover', confidence: 1 }))).toEqual({
      verdict: 'off_policy',
      why: '"failover" is not offered in this state (offered: restart, hand-to-human)',
    });
  });

  it('refuses a made-up option, an empty one and a near miss by case', () => {
    for (const option of ['drop-database', '', 'Restart', ' restart']) {
      expect(judgeProposal(spec, offered, answer({ option })).verdict).toBe('off_policy');
    }
  });

  it('refuses answers that do not parse, naming what is wrong', () => {
    expect(judgeProposal(spec, offered, answer({ confidence: '0.9' })).why).toMatch(/confidence is not a number from 0 to 1/);
    expect(judgeProposal(spec, offered, answer({ confidence: 1.5 })).verdict).toBe('off_policy');
    expect(judgeProposal(spec, offered, answer({ confidence: Number.NaN })).verdict).toBe('off_policy');
    expect(judgeProposal(spec, offered, answer({ rationale: 42 })).why).toMatch(/rationale is not a string/);
    expect(judgeProposal(spec, offered, { option: { id: 'restart' }, rationale: '', confidence: 1 }).verdict).toBe('off_policy');
    expect(judgeProposal(spec, offered, {}).verdict).toBe('off_policy');
  });

  it('refuses any answer with a problem, however good it looks otherwise', () => {
    expect(judgeProposal(spec, offered, answer({ problem: "answered after the step's timeout of 50ms" }))).toEqual({
      verdict: 'off_policy',
      why: "answered after the step's timeout of 50ms",
    });
  });

  it('calls low confidence ambiguous, not off_policy', () => {
    expect(judgeProposal(spec, offered, answer({ confidence: 0.69 }))).toEqual({ verdict: 'ambiguous', why: 'confidence 0.69 is under 0.7' });
  });
});

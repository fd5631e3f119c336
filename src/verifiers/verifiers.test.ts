import { describe, expect, it } from 'vitest';
import { evaluateCheck, evaluateProbe, pollAgain } from './index.js';
import { expr, tpl } from '../../test/helpers/plan-builder.js';
import type { ExprContext, Probe, VerifyCheck } from '../runbook/plan.js';

const ctx: ExprContext = { input: {}, task: { id: 't', externalRef: null, taskClass: 'c', attempt: 1, requestedBy: null }, steps: {}, env: {}, secrets: {} };
const body = (c: ExprContext) => (c.result as { body: { status?: string; items?: unknown[] } }).body;
const check: VerifyCheck = {
  id: 'healthy',
  spec: { action: 'http', with: { method: 'GET', path: tpl('/h'), headers: {}, query: {} } },
  expect: expr("result.body.status == 'healthy'", (c) => body(c).status === 'healthy'),
  poll: { everyMs: 5000, withinMs: 120_000 },
};
const T = new Date('2026-11-23T18:00:00Z');
const at = (ms: number) => new Date(T.getTime() + ms);

describe('evaluateCheck', () => {
  it('passes when expect holds and keeps what it observed', () => {
    const v = evaluateCheck(check, { kind: 'result', result: { status: 200, headers: { authorization: 'x' }, body: { status: 'healthy' } } }, ctx);
    expect(v).toEqual({ passed: true, observed: { status: 200, body: { status: 'healthy' } }, problem: null });
  });
  it('fails with the observed value, and with the error when there was no answer', () => {
    expect(evaluateCheck(check, { kind: 'result', result: { status: 200, headers: {}, body: { status: 'degraded' } } }, ctx).passed).toBe(false);
    const noAnswer = evaluateCheck(check, { kind: 'error', message: 'ECONNREFUSED' }, ctx);
    expect(noAnswer).toMatchObject({ passed: false, problem: 'ECONNREFUSED' });
  });
  it('an expect that cannot be evaluated does not pass', () => {
    const v = evaluateCheck(check, { kind: 'result', result: { status: 200, headers: {}, body: null } }, ctx);
    expect(v.passed).toBe(false);
    expect(v.problem).toMatch(/could not be evaluated/);
  });
});

describe('pollAgain', () => {
  it('looks again only inside the window and before the deadline', () => {
    expect(pollAgain(check, T, at(0), null)).toBe(true);
    expect(pollAgain(check, T, at(115_000), null)).toBe(true);
    expect(pollAgain(check, T, at(115_001), null)).toBe(false);
    expect(pollAgain(check, T, at(0), at(4000))).toBe(false);
    expect(pollAgain({ ...check, poll: undefined } as VerifyCheck, T, at(0), null)).toBe(false);
  });
});

describe('evaluateProbe', () => {
  const probe: Probe = {
    spec: check.spec,
    present: expr('size(items) > 0', (c) => (body(c).items ?? []).length > 0),
    absent: expr('size(items) == 0', (c) => (body(c).items ?? []).length === 0),
    capture: { chargeId: expr('items[0].id', (c) => (body(c).items as { id: string }[])[0]!.id) },
  };
  const answer = (items: unknown[], status = 200) => ({ kind: 'result' as const, result: { status, headers: {}, body: { items } } });
  it('present takes the captures, absent allows a retry', () => {
    expect(evaluateProbe(probe, answer([{ id: 'ch_1' }]), ctx)).toMatchObject({ verdict: 'present', captures: { chargeId: 'ch_1' } });
    expect(evaluateProbe(probe, answer([]), ctx).verdict).toBe('absent');
  });
  it('a failed probe, no answer, or both/neither matching prove nothing', () => {
    expect(evaluateProbe(probe, answer([], 500), ctx).verdict).toBe('unknown');
    expect(evaluateProbe(probe, { kind: 'error', message: 'reset' }, ctx).verdict).toBe('unknown');
    const both: Probe = { ...probe, absent: expr('true', () => true) };
    expect(evaluateProbe(both, answer([{ id: 'x' }]), ctx)).toMatchObject({ verdict: 'unknown', problem: 'both present and absent matched' });
  });
});

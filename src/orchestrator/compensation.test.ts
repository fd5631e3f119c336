/**
 * A rollback past a once step whose effect may have happened (in_doubt): its probe decides.
 * The effect is there: it is undone like any completed step. It is absent: nothing to undo.
 * It cannot be known (no probe, or a probe that proves nothing): the rollback escalates, so a
 * task never ends rolled_back while a charge may still stand.
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OrchestratorEvent, TaskView } from './types.js';
import type { CompiledStep } from '../runbook/plan.js';
import type { RawOutcome } from './outcome.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, expr, http, httpStep, plan, taskView, tpl } from '../../test/helpers/plan-builder.js';

const get = (path: string) => ({ action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl(path), headers: {}, query: {} } });
const undo = (path: string) => ({
  spec: { action: 'http' as const, with: { system: 'svc', method: 'POST', path: tpl(path), headers: {}, query: {} } },
  repeat: 'keyed' as const,
});
const items = (c: { result?: unknown }) => (c.result as { body: { items: { id: string }[] } }).body.items;
const probe = {
  spec: get('/charges'),
  present: expr('size(items) > 0', (c) => items(c).length > 0),
  absent: expr('size(items) == 0', (c) => items(c).length === 0),
  capture: { chargeId: expr('items[0].id', (c) => items(c)[0]?.id) },
};

function runbook(charge: Partial<CompiledStep> = {}) {
  return plan([
    httpStep('account', { compensate: undo('/accounts/delete') }),
    httpStep('charge', { repeat: 'once', probe, retry: {}, onFailure: { mode: 'rollback' }, compensate: undo('/refunds'), ...charge }),
  ]);
}

/** The charge times out (its effect may have happened) with no retry left: the rollback starts. */
function chargeTimesOut(p: ReturnType<typeof runbook>): { task: TaskView; d: Decision } {
  let task = taskView(p, { currentStep: 'charge', cursor: { phase: 'action' }, steps: { account: { status: 'succeeded', attempts: 1, captures: {} }, charge: { status: 'pending', attempts: 0, captures: {} } } });
  let d = decide(task, p, { kind: 'claimed', openAttempts: [] }, env());
  task = apply(task, d);
  d = decide(task, p, finished(d, { kind: 'error', code: 'TIMEOUT', message: 'no response within 5s', maybeApplied: true }), env());
  return { task: apply(task, d), d };
}

function finished(d: Decision, outcome: RawOutcome): OrchestratorEvent {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { kind: 'finished', attempt: d.next.attempt, outcome, durationMs: 5 };
}

describe('rollback past a once step in doubt', () => {
  it('probes it first; the charge is there (its id captured from the probe): it is refunded, then the rest undone', () => {
    const p = runbook();
    const { task: t0, d } = chargeTimesOut(p);
    expect(d.commit?.to).toBe('compensating');
    expect(t0.steps.charge?.status).toBe('in_doubt');
    expect(d.next).toMatchObject({ type: 'perform', attempt: { step: 'charge', kind: 'probe' } });
    const d2 = decide(t0, p, finished(d, http(200, { items: [{ id: 'ch_7' }] })), env());
    expect(d2.next).toMatchObject({ type: 'perform', attempt: { step: 'charge', kind: 'compensate' } });
    expect(apply(t0, d2).steps.charge).toMatchObject({ status: 'succeeded', captures: { chargeId: 'ch_7' } });
    const t2 = apply(t0, d2);
    const d3 = decide(t2, p, finished(d2, http(200)), env());
    expect(d3.next).toMatchObject({ type: 'perform', attempt: { step: 'account', kind: 'compensate' } });
    const d4 = decide(apply(t2, d3), p, finished(d3, http(200)), env());
    expect(d4.commit?.to).toBe('rolled_back');
    expect(apply(apply(t2, d3), d4).steps.charge?.status).toBe('compensated');
  });

  it('the charge is absent: nothing to refund, the rest is undone', () => {
    const p = runbook();
    const { task: t0, d } = chargeTimesOut(p);
    const d2 = decide(t0, p, finished(d, http(200, { items: [] })), env());
    expect(d2.next).toMatchObject({ type: 'perform', attempt: { step: 'account', kind: 'compensate' } });
    const d3 = decide(apply(t0, d2), p, finished(d2, http(200)), env());
    expect(d3.commit?.to).toBe('rolled_back');
    expect(apply(apply(t0, d2), d3).steps.charge?.status).toBe('failed');
  });

  it('the probe cannot tell: the rollback escalates compensation_failed, nothing more is undone', () => {
    const p = runbook();
    const { task: t0, d } = chargeTimesOut(p);
    const d2 = decide(t0, p, finished(d, http(200, { items: null })), env());
    expect(d2.commit?.to).toBe('escalated');
    expect(d2.commit?.escalation).toMatchObject({ kind: 'compensation_failed', failureClass: 'ambiguous', step: 'charge' });
    expect(d2.commit?.startAttempt).toBeUndefined();
  });

  it('without a probe it cannot be known: escalate before undoing anything', () => {
    const p = runbook({ probe: undefined, retry: {} });
    const { d } = chargeTimesOut(p);
    expect(d.commit?.to).not.toBe('rolled_back');
    expect(d.commit?.escalation).toMatchObject({ kind: 'compensation_failed', failureClass: 'ambiguous', step: 'charge' });
  });
});

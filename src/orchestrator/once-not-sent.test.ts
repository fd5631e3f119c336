import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OrchestratorEvent } from './types.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import type { RawOutcome } from './outcome.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, expr, httpStep, plan, taskView, tpl } from '../../test/helpers/plan-builder.js';

const claimed: OrchestratorEvent = { kind: 'claimed', openAttempts: [] };

function finished(d: Decision, outcome: RawOutcome): OrchestratorEvent {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { kind: 'finished', attempt: d.next.attempt, outcome, durationMs: 5 };
}

function runOnce(p: CompiledRunbook, outcome: RawOutcome) {
  const task = taskView(p);
  const first = decide(task, p, claimed, env());
  const t1 = apply(task, first);
  const second = decide(t1, p, finished(first, outcome), env());
  return { second, task: apply(t1, second) };
}

/** What the http action reports for a request its timeout caught before it was written. */
const notSent: RawOutcome = { kind: 'error', code: 'TIMEOUT', message: 'POST http://svc/charges could not be sent within 300ms (no connection)', maybeApplied: false };

describe('decide: a once step whose request never went out', () => {
  const probe = {
    spec: { action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl('/charges'), headers: {}, query: {} } },
    present: expr('size(items) > 0', (c) => ((c.result as { body: { items: unknown[] } }).body.items.length > 0)),
    absent: expr('size(items) == 0', (c) => ((c.result as { body: { items: unknown[] } }).body.items.length === 0)),
    capture: {},
  };

  it('is retried, not escalated as ambiguous, even without a probe', () => {
    const p = plan([httpStep('email', { repeat: 'once' })]);
    const { second, task } = runOnce(p, notSent);
    expect(second.commit?.escalation).toBeFalsy();
    expect(second.commit?.to).toBe('retry_scheduled');
    const resumed = decide({ ...task, state: 'running' }, p, claimed, env());
    expect(resumed.next).toMatchObject({ type: 'perform', attempt: { kind: 'action', step: 'email', attempt: 2 } });
  });

  it('is tried again directly: there is nothing for its probe to find', () => {
    const p = plan([httpStep('charge', { repeat: 'once', probe })]);
    const { task } = runOnce(p, notSent);
    const resumed = decide({ ...task, state: 'running' }, p, claimed, env());
    expect(resumed.next).toMatchObject({ type: 'perform', attempt: { kind: 'action', step: 'charge' } });
  });

  it('a timeout after the request was written still escalates a once step without a probe', () => {
    const p = plan([httpStep('email', { repeat: 'once' })]);
    const { second } = runOnce(p, { ...notSent, message: 'timed out after 300ms', maybeApplied: true });
    expect(second.commit?.escalation?.kind).toBe('ambiguous_state');
  });

  it('an error answer (a 503) still escalates a once step without a probe: it may come after the effect', () => {
    const p = plan([httpStep('email', { repeat: 'once' })]);
    const { second } = runOnce(p, { kind: 'result', result: { status: 503, headers: {}, body: {} } });
    expect(second.commit?.escalation?.kind).toBe('ambiguous_state');
  });
});

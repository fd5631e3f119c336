/**
 * A probe is a read: a passing fault of the probe itself (a 503, a reset connection, a timeout)
 * is retried under the step's policy for that failure before the attempt is called ambiguous.
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OrchestratorEvent, TaskView } from './types.js';
import type { RawOutcome } from './outcome.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, expr, http, httpStep, plan, T0, taskView, tpl } from '../../test/helpers/plan-builder.js';

const items = (c: { result?: unknown }) => (c.result as { body: { items: unknown[] } }).body.items;
const probe = {
  spec: { action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl('/charges'), headers: {}, query: {} } },
  present: expr('size(items) > 0', (c) => items(c).length > 0),
  absent: expr('size(items) == 0', (c) => items(c).length === 0),
  capture: {},
};
const p = plan([httpStep('charge', { repeat: 'once', probe })]);
const probing = (): TaskView => taskView(p, { currentStep: 'charge', cursor: { phase: 'probe', probeFirst: true, counters: { 'action:charge': 1 } }, steps: { charge: { status: 'running', attempts: 1, captures: {} } } });
const finished = (d: Decision, outcome: RawOutcome): OrchestratorEvent => {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { kind: 'finished', attempt: d.next.attempt, outcome, durationMs: 5 };
};

describe("a probe's own passing faults", () => {
  it('a 503 of the probe schedules a retry of the probe, which then finds nothing and the action runs', () => {
    let t = probing();
    const d1 = decide(t, p, { kind: 'claimed', openAttempts: [] }, env());
    expect(d1.next).toMatchObject({ type: 'perform', attempt: { kind: 'probe', attempt: 1 } });
    t = apply(t, d1);
    const d2 = decide(t, p, finished(d1, http(503)), env());
    expect(d2.commit?.to).toBe('retry_scheduled');
    expect(d2.commit?.escalation).toBeUndefined();
    expect(d2.commit?.patch.nextAttemptAt).toEqual(new Date(T0.getTime() + 1000));
    expect(d2.commit?.events.find((e) => e.type === 'retry.scheduled')?.data).toMatchObject({ failureClass: 'transient', probe: true, budget: { used: 1 } });
    t = { ...apply(t, d2), state: 'running' };
    const d3 = decide(t, p, { kind: 'claimed', openAttempts: [] }, env(new Date(T0.getTime() + 1000)));
    expect(d3.next).toMatchObject({ type: 'perform', attempt: { kind: 'probe', attempt: 2 } });
    const d4 = decide(apply(t, d3), p, finished(d3, http(200, { items: [] })), env());
    expect(d4.next).toMatchObject({ type: 'perform', attempt: { kind: 'action', attempt: 2 } });
  });

  it('a reset connection and a timeout are retried too; a probe that keeps failing is ambiguous at last', () => {
    let t = probing();
    let d = decide(t, p, { kind: 'claimed', openAttempts: [] }, env());
    const faults: RawOutcome[] = [
      { kind: 'error', code: 'ECONNRESET', message: 'socket hang up', maybeApplied: true },
      { kind: 'error', code: 'TIMEOUT', message: 'no response within 1s', maybeApplied: true },
    ];
    for (const fault of faults) {
      t = apply(t, d);
      d = decide(t, p, finished(d, fault), env());
      expect(d.commit?.to, fault.kind === 'error' ? fault.code : '').toBe('retry_scheduled');
      t = { ...apply(t, d), state: 'running' };
      d = decide(t, p, { kind: 'claimed', openAttempts: [] }, env());
    }
    for (let i = 0; i < 3 && d.next.type === 'perform'; i++) {
      t = apply(t, d);
      d = decide(t, p, finished(d, http(503)), env());
      if (d.commit?.to !== 'retry_scheduled') break;
      t = { ...apply(t, d), state: 'running' };
      d = decide(t, p, { kind: 'claimed', openAttempts: [] }, env());
    }
    expect(d.commit?.escalation).toMatchObject({ kind: 'ambiguous_state', step: 'charge' });
    expect(apply(t, d).steps.charge?.status).toBe('in_doubt');
  });

  it('an answer the probe cannot read is ambiguous at once: another read would say the same', () => {
    const t = probing();
    const d1 = decide(t, p, { kind: 'claimed', openAttempts: [] }, env());
    const d2 = decide(apply(t, d1), p, finished(d1, http(200, { items: null })), env());
    expect(d2.commit?.escalation).toMatchObject({ kind: 'ambiguous_state' });
  });
});

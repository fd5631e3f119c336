/**
 * Deadlines that cannot be outrun: an action's timeout is capped by what is left of the task's
 * deadline; a wait and an approval wake at the deadline at the latest; a refresh checks it.
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OrchestratorEvent } from './types.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, expr, http, httpStep, plan, T0, taskView, tpl } from '../../test/helpers/plan-builder.js';

const claimed: OrchestratorEvent = { kind: 'claimed', openAttempts: [] };
const at = (ms: number) => new Date(T0.getTime() + ms);
const finished = (d: Decision, outcome: ReturnType<typeof http>): OrchestratorEvent => {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { kind: 'finished', attempt: d.next.attempt, outcome, durationMs: 5 };
};

describe("an action's timeout is capped by the remaining deadline", () => {
  it("the step's own timeout, when the deadline is nearer", () => {
    const p = plan([httpStep('restart', { timeoutMs: 30_000 })]);
    const d = decide(taskView(p, { deadlineAt: at(2000) }), p, claimed, env());
    expect(d.next).toMatchObject({ type: 'perform', timeoutMs: 2000 });
  });

  it("the system's timeout when the step has none; untouched when the deadline is further", () => {
    const p = plan([httpStep('restart')]); // system svc: 1s
    expect(decide(taskView(p, { deadlineAt: at(400) }), p, claimed, env()).next).toMatchObject({ type: 'perform', timeoutMs: 400 });
    const far = decide(taskView(p, { deadlineAt: at(60_000) }), p, claimed, env()).next;
    expect(far).toMatchObject({ type: 'perform' });
    expect('timeoutMs' in far).toBe(false);
  });

  it('probes and verification checks too', () => {
    const check = { id: 'ok', spec: { action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl('/h'), headers: {}, query: {} } }, expect: expr('true', () => true), timeoutMs: 10_000 };
    const p = plan([httpStep('restart', { verify: [check] })]);
    const t = taskView(p, { deadlineAt: at(3000) });
    const first = decide(t, p, claimed, env());
    const verify = decide(apply(t, first), p, finished(first, http(200)), env(at(1000)));
    expect(verify.next).toMatchObject({ type: 'perform', attempt: { kind: 'verify' }, timeoutMs: 2000 });
  });
});

describe('waits wake at the deadline at the latest', () => {
  it('a callback wait due after the deadline wakes at the deadline, and escalates deadline_exceeded then', () => {
    const p = plan([httpStep('wait-ack', { spec: { action: 'wait', with: { withinMs: 60_000 } }, changes: false, repeat: 'safe' })]);
    const t = taskView(p, { deadlineAt: at(10_000) });
    const d = decide(t, p, claimed, env());
    expect(d.commit?.to).toBe('waiting_callback');
    expect(d.commit?.patch.nextAttemptAt).toEqual(at(10_000));
    const woke = decide({ ...apply(t, d), state: 'running' }, p, claimed, env(at(10_000)));
    expect(woke.commit?.escalation).toMatchObject({ kind: 'deadline_exceeded', step: 'wait-ack' });
  });

  it('an approval wakes at the deadline: past it, the task escalates deadline_exceeded; before it, nothing changes', () => {
    const p = plan([httpStep('charge', { approval: { route: 'finance' } })]);
    const t = taskView(p, { deadlineAt: at(600_000) });
    const d = decide(t, p, claimed, env());
    expect(d.commit?.to).toBe('awaiting_approval');
    expect(d.commit?.patch.nextAttemptAt).toEqual(at(600_000));
    const waiting = apply(t, d);
    const early = decide(waiting, p, claimed, env(at(1000)));
    expect(early.commit).toBeUndefined();
    expect(early.next.type).toBe('release');
    const late = decide(waiting, p, claimed, env(at(600_000)));
    expect(late.commit?.to).toBe('escalated');
    expect(late.commit?.escalation).toMatchObject({ kind: 'deadline_exceeded', step: 'charge' });
  });
});

describe('a refresh checks the deadline', () => {
  it('past it, the refresh does not start and the task escalates', () => {
    const p = plan([httpStep('read', { changes: false, repeat: 'safe' }), httpStep('write')]);
    const t = taskView(p, {
      currentStep: 'write',
      deadlineAt: at(1000),
      cursor: { phase: 'refresh', refresh: ['read'] },
      steps: { read: { status: 'succeeded', attempts: 1, captures: {} }, write: { status: 'running', attempts: 1, captures: {} } },
    });
    const d = decide(t, p, claimed, env(at(2000)));
    expect(d.next.type).toBe('release');
    expect(d.commit?.startAttempt).toBeUndefined();
    expect(d.commit?.escalation).toMatchObject({ kind: 'deadline_exceeded' });
  });
});

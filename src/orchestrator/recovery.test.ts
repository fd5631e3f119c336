/**
 * Crash recovery without end: an attempt in doubt is replayed (as its repeat mode allows) without
 * counting against the retry policy or the budget, but a step that keeps killing its worker is
 * stopped: the third crashed attempt of one step escalates as `internal` with what is known.
 */
import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OpenAttempt, TaskView } from './types.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, http, httpStep, plan, T0, taskView, tpl } from '../../test/helpers/plan-builder.js';

function crashAfter(d: Decision): OpenAttempt {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { ...d.next.attempt, startedAt: T0 };
}

describe('attempts that crash their worker', () => {
  it('a keyed step is replayed after two crashes, and escalates internal at the third', () => {
    const p = plan([httpStep('restart')]);
    let task: TaskView = taskView(p);
    let d = decide(task, p, { kind: 'claimed', openAttempts: [] }, env());
    for (let crash = 1; crash <= 2; crash++) {
      task = { ...apply(task, d), state: 'running' };
      d = decide(task, p, { kind: 'claimed', openAttempts: [crashAfter(d)] }, env());
      expect(d.next, `after crash ${crash}`).toMatchObject({ type: 'perform', attempt: { step: 'restart', attempt: crash + 1, idempotencyKey: 'tsk_test:restart' } });
    }
    task = { ...apply(task, d), state: 'running' };
    d = decide(task, p, { kind: 'claimed', openAttempts: [crashAfter(d)] }, env());
    expect(d.next.type).toBe('release');
    expect(d.commit?.startAttempt).toBeUndefined();
    expect(d.commit?.escalation).toMatchObject({ kind: 'non_retryable', failureClass: 'internal', step: 'restart' });
    expect(d.commit?.escalation?.message).toMatch(/3 attempts of restart/);
    expect(apply(task, d).retryUsed).toBe(0);
  });

  it('crashes of a compensation are capped the same way', () => {
    const undo = { spec: { action: 'http' as const, with: { system: 'svc', method: 'DELETE', path: tpl('/a'), headers: {}, query: {} } }, repeat: 'keyed' as const };
    const p = plan([httpStep('a', { compensate: undo }), httpStep('b', { onFailure: { mode: 'rollback' }, retry: {} })]);
    let task: TaskView = taskView(p, { currentStep: 'b', cursor: { phase: 'action' }, steps: { a: { status: 'succeeded', attempts: 1, captures: {} }, b: { status: 'pending', attempts: 0, captures: {} } } });
    let d = decide(task, p, { kind: 'claimed', openAttempts: [] }, env());
    task = apply(task, d);
    d = decide(task, p, { kind: 'finished', attempt: crashAfter(d), outcome: http(409), durationMs: 5 }, env());
    expect(d.next).toMatchObject({ type: 'perform', attempt: { kind: 'compensate', step: 'a' } });
    for (let crash = 1; crash <= 3; crash++) {
      task = apply(task, d);
      d = decide(task, p, { kind: 'claimed', openAttempts: [crashAfter(d)] }, env());
    }
    expect(d.commit?.escalation).toMatchObject({ kind: 'compensation_failed', failureClass: 'internal', step: 'a' });
  });
});

import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import type { Decision, OrchestratorEvent, TaskView } from './types.js';
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import type { RawOutcome } from './outcome.js';
import { applyCommit as apply } from '../../test/helpers/memory-run.js';
import { env, expr, http, httpStep, plan, T0, taskView, tpl } from '../../test/helpers/plan-builder.js';

const claimed: OrchestratorEvent = { kind: 'claimed', openAttempts: [] };


function finished(d: Decision, outcome: RawOutcome): OrchestratorEvent {
  if (d.next.type !== 'perform') throw new Error(`expected perform, got ${d.next.type}`);
  return { kind: 'finished', attempt: d.next.attempt, outcome, durationMs: 5 };
}

/** Runs claim -> perform -> outcome; returns the decision after the outcome and the task. */
function runOnce(p: CompiledRunbook, outcome: Parameters<typeof finished>[1], task = taskView(p), now = T0) {
  const first = decide(task, p, claimed, env(now));
  const t1 = apply(task, first);
  const second = decide(t1, p, finished(first, outcome), env(now));
  return { first, second, task: apply(t1, second) };
}

const types = (d: Decision) => d.commit?.events.map((e) => e.type) ?? [];

describe('decide: walking steps', () => {
  it('starts the first step with a durable attempt and a stable idempotency key', () => {
    const p = plan([httpStep('restart')]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.next).toMatchObject({ type: 'perform', attempt: { step: 'restart', kind: 'action', attempt: 1, idempotencyKey: 'tsk_test:restart' } });
    expect(d.commit?.startAttempt).toEqual({ step: 'restart', kind: 'action', attempt: 1, idempotencyKey: 'tsk_test:restart' });
    expect(types(d)).toEqual(['step.started', 'attempt.started']);
    expect(d.commit?.patch.steps?.restart?.status).toBe('running');
  });

  it('completes after the last step succeeds and captures what it says', () => {
    const p = plan([httpStep('a', { capture: { id: expr('result.body.id', (c) => (c.result as { body: { id: string } }).body.id) } })]);
    const { second, task } = runOnce(p, http(201, { id: 'rst_1' }));
    expect(second.commit?.to).toBe('completed');
    expect(second.next.type).toBe('release');
    expect(task.steps.a).toMatchObject({ status: 'succeeded', captures: { id: 'rst_1' } });
    expect(second.commit?.finishAttempts?.[0]).toMatchObject({ outcome: 'succeeded', failureClass: null });
  });

  it('skips a step whose when is false and runs the next', () => {
    const p = plan([httpStep('a', { when: expr('false', () => false) }), httpStep('b')]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.commit?.patch.steps?.a?.status).toBe('skipped');
    expect(d.next).toMatchObject({ type: 'perform', attempt: { step: 'b' } });
  });

  it('follows next rules and marks the steps it jumps over skipped', () => {
    const p = plan([httpStep('a', { next: [{ goto: 'c', when: expr('true', () => true) }] }), httpStep('b'), httpStep('c')]);
    const { second } = runOnce(p, http(200));
    expect(second.commit?.patch.steps?.b?.status).toBe('skipped');
    expect(second.next).toMatchObject({ type: 'perform', attempt: { step: 'c' } });
  });

  it('goto end finishes the task', () => {
    const p = plan([httpStep('a', { next: [{ goto: 'end' }] }), httpStep('b')]);
    const { second } = runOnce(p, http(200));
    expect(second.commit?.to).toBe('completed');
  });

  it('runs set steps inline without an attempt', () => {
    const p = plan([
      httpStep('calc', { spec: { action: 'set', with: { values: { total: expr('1 + 2', () => 3) } } }, changes: false, repeat: 'safe' }),
      httpStep('b'),
    ]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.commit?.patch.steps?.calc).toMatchObject({ status: 'succeeded', captures: { total: 3 } });
    expect(d.next).toMatchObject({ type: 'perform', attempt: { step: 'b' } });
  });
});

describe('decide: failures and retries', () => {
  it('schedules a durable retry with exponential backoff for a transient failure', () => {
    const p = plan([httpStep('a')]);
    const { second, task } = runOnce(p, http(503));
    expect(second.commit?.to).toBe('retry_scheduled');
    expect(second.commit?.patch.nextAttemptAt).toEqual(new Date(T0.getTime() + 1000));
    expect(task.retryUsed).toBe(1);
    const ev = second.commit?.events.find((e) => e.type === 'retry.scheduled');
    expect(ev?.data).toMatchObject({ failureClass: 'transient', delayMs: 1000, budget: { used: 1, limit: 10 } });

    // The retry keeps the same idempotency key and counts the attempt.
    const resumed = decide({ ...task, state: 'running' }, p, claimed, env(new Date(T0.getTime() + 1000)));
    expect(resumed.next).toMatchObject({ type: 'perform', attempt: { attempt: 2, idempotencyKey: 'tsk_test:a' } });
  });

  it('honours Retry-After when it asks for longer than the backoff', () => {
    const p = plan([httpStep('a')]);
    const { second } = runOnce(p, { ...http(429), retryAfterMs: 7000 });
    expect(second.commit?.patch.nextAttemptAt).toEqual(new Date(T0.getTime() + 7000));
  });

  it('escalates a permission failure without retrying', () => {
    const p = plan([httpStep('a')]);
    const { second } = runOnce(p, http(403));
    expect(second.commit?.to).toBe('escalated');
    expect(second.commit?.escalation).toMatchObject({ kind: 'non_retryable', failureClass: 'permission', step: 'a' });
  });

  it('lets classify rules override the defaults', () => {
    const p = plan([httpStep('a', { classify: [{ when: expr('result.status == 200 && body.error', (c) => (c.result as { body: { error?: string } }).body.error !== undefined), as: 'business' }] })]);
    const { second } = runOnce(p, http(200, { error: 'duplicate' }));
    expect(second.commit?.escalation).toMatchObject({ kind: 'non_retryable', failureClass: 'business' });
  });

  it('escalates retries_exhausted after the policy\'s attempts', () => {
    const p = plan([httpStep('a')]);
    let task = taskView(p);
    let d = decide(task, p, claimed, env());
    for (let i = 0; i < 3; i++) {
      task = apply(task, d);
      d = decide(task, p, finished(d, http(502)), env());
      task = apply(task, d);
      if (i < 2) {
        expect(d.commit?.to).toBe('retry_scheduled');
        task = { ...task, state: 'running' };
        d = decide(task, p, claimed, env());
      }
    }
    expect(d.commit?.to).toBe('escalated');
    expect(d.commit?.escalation?.kind).toBe('retries_exhausted');
    expect(task.retryUsed).toBe(2);
  });

  it('escalates budget_exhausted when the task-wide budget is used up', () => {
    const p = plan([httpStep('a')]);
    const { second } = runOnce(p, http(503), taskView(p, { retryUsed: 10 }));
    expect(second.commit?.escalation?.kind).toBe('budget_exhausted');
  });

  it('escalates deadline_exceeded when a retry would start after the deadline', () => {
    const p = plan([httpStep('a')]);
    const { second } = runOnce(p, http(503), taskView(p, { deadlineAt: new Date(T0.getTime() + 500) }));
    expect(second.commit?.escalation?.kind).toBe('deadline_exceeded');
  });

  it('a non-critical failure lets the task go on and end partially_completed', () => {
    const p = plan([httpStep('a', { critical: false, retry: {} }), httpStep('b')]);
    const { second, task } = runOnce(p, http(400));
    expect(second.next).toMatchObject({ type: 'perform', attempt: { step: 'b' } });
    const third = decide(task, p, finished(second, http(200)), env());
    expect(third.commit?.to).toBe('partially_completed');
    expect(third.commit?.escalation).toMatchObject({ kind: 'partial_completion', step: 'a' });
  });

  it('onFailure goto jumps to the named later step', () => {
    const p = plan([httpStep('a', { onFailure: { mode: 'goto', target: 'c' } }), httpStep('b'), httpStep('c')]);
    const { second } = runOnce(p, http(409));
    expect(second.next).toMatchObject({ type: 'perform', attempt: { step: 'c' } });
  });
});

describe('decide: once steps and probes', () => {
  const probe = {
    spec: { action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl('/charges'), headers: {}, query: {} } },
    present: expr('size(items) > 0', (c) => ((c.result as { body: { items: unknown[] } }).body.items.length > 0)),
    absent: expr('size(items) == 0', (c) => ((c.result as { body: { items: unknown[] } }).body.items.length === 0)),
    capture: { chargeId: expr('items[0].id', (c) => (c.result as { body: { items: { id: string }[] } }).body.items[0]?.id) },
  };

  it('a once step in doubt after a crash runs its probe, and a present effect is taken, not replayed', () => {
    const p = plan([httpStep('charge', { repeat: 'once', probe })]);
    const task = taskView(p, { currentStep: 'charge', cursor: { phase: 'action', counters: { 'action:charge': 1 } }, steps: { charge: { status: 'running', attempts: 1, captures: {} } } });
    const d = decide(task, p, { kind: 'claimed', openAttempts: [{ step: 'charge', kind: 'action', attempt: 1, idempotencyKey: null, startedAt: T0 }] }, env());
    expect(d.commit?.finishAttempts?.[0]).toMatchObject({ outcome: 'in_doubt', attempt: 1 });
    expect(d.next).toMatchObject({ type: 'perform', attempt: { kind: 'probe' } });
    const after = decide(apply(task, d), p, finished(d, http(200, { items: [{ id: 'ch_1' }] })), env());
    expect(after.commit?.to).toBe('completed');
    expect(after.commit?.patch.steps?.charge).toMatchObject({ status: 'succeeded', captures: { chargeId: 'ch_1' } });
  });

  it('an absent effect lets the once step try again', () => {
    const p = plan([httpStep('charge', { repeat: 'once', probe })]);
    const task = taskView(p, { currentStep: 'charge', cursor: { phase: 'probe', probeFirst: true } });
    const d = decide(task, p, claimed, env());
    const after = decide(apply(task, d), p, finished(d, http(200, { items: [] })), env());
    expect(after.next).toMatchObject({ type: 'perform', attempt: { kind: 'action', step: 'charge' } });
  });

  it('a probe that proves nothing escalates ambiguous_state', () => {
    const p = plan([httpStep('charge', { repeat: 'once', probe })]);
    const task = taskView(p, { currentStep: 'charge', cursor: { phase: 'probe', probeFirst: true } });
    const d = decide(task, p, claimed, env());
    // An answer neither present nor absent can read (a 5xx is a passing fault: probe-retry.test.ts).
    const after = decide(apply(task, d), p, finished(d, http(200, { items: null })), env());
    expect(after.commit?.escalation?.kind).toBe('ambiguous_state');
    expect(after.commit?.patch.steps?.charge?.status).toBe('in_doubt');
  });

  it('a once step in doubt without a probe escalates and is never replayed', () => {
    const p = plan([httpStep('email', { repeat: 'once' })]);
    const task = taskView(p, { currentStep: 'email', cursor: { phase: 'action' } });
    const d = decide(task, p, { kind: 'claimed', openAttempts: [{ step: 'email', kind: 'action', attempt: 1, idempotencyKey: null, startedAt: T0 }] }, env());
    expect(d.next.type).toBe('release');
    expect(d.commit?.escalation?.kind).toBe('ambiguous_state');
    expect(d.commit?.startAttempt).toBeUndefined();
  });

  it('a once step whose response was lost retries only through its probe', () => {
    const p = plan([httpStep('charge', { repeat: 'once', probe })]);
    const { second, task } = runOnce(p, { kind: 'error', code: 'ECONNRESET', message: 'socket hang up', maybeApplied: true });
    expect(second.commit?.to).toBe('retry_scheduled');
    const resumed = decide({ ...task, state: 'running' }, p, claimed, env());
    expect(resumed.next).toMatchObject({ type: 'perform', attempt: { kind: 'probe' } });
  });

  it('a keyed step in doubt replays with the same key', () => {
    const p = plan([httpStep('restart')]);
    const task = taskView(p, { currentStep: 'restart', cursor: { phase: 'action', key: 'tsk_test:restart', counters: { 'action:restart': 1 } } });
    const d = decide(task, p, { kind: 'claimed', openAttempts: [{ step: 'restart', kind: 'action', attempt: 1, idempotencyKey: 'tsk_test:restart', startedAt: T0 }] }, env());
    expect(d.next).toMatchObject({ type: 'perform', attempt: { kind: 'action', attempt: 2, idempotencyKey: 'tsk_test:restart' } });
  });
});

describe('decide: verification', () => {
  const healthy = expr("result.body.status == 'healthy'", (c) => (c.result as { body: { status: string } }).body.status === 'healthy');
  const check = { id: 'healthy', spec: { action: 'http' as const, with: { system: 'svc', method: 'GET', path: tpl('/health'), headers: {}, query: {} } }, expect: healthy, poll: { everyMs: 1000, withinMs: 3000 } };

  it('polls until the check passes, then completes', () => {
    const p = plan([httpStep('restart', { verify: [check] })]);
    const { second, task } = runOnce(p, http(200));
    expect(second.next).toMatchObject({ type: 'perform', attempt: { kind: 'verify' }, check: 'healthy' });
    const third = decide(task, p, finished(second, http(200, { status: 'degraded' })), env());
    expect(third.next).toEqual({ type: 'sleep', ms: 1000 });
    const ev = third.commit?.events.find((e) => e.type === 'verification.result');
    expect(ev?.data).toMatchObject({ passed: false, expected: "result.body.status == 'healthy'", observed: { status: 200, body: { status: 'degraded' } } });
    const t3 = apply(task, third);
    const fourth = decide(t3, p, { kind: 'polled' }, env(new Date(T0.getTime() + 1000)));
    const fifth = decide(apply(t3, fourth), p, finished(fourth, http(200, { status: 'healthy' })), env(new Date(T0.getTime() + 1000)));
    expect(fifth.commit?.to).toBe('completed');
  });

  it('escalates verification_failed when the window closes', () => {
    const p = plan([httpStep('restart', { verify: [check] })]);
    const { second, task } = runOnce(p, http(200));
    const late = new Date(T0.getTime() + 2500);
    const third = decide(task, p, finished(second, http(200, { status: 'degraded' })), env(late));
    expect(third.commit?.escalation).toMatchObject({ kind: 'verification_failed', failureClass: 'verification', step: 'restart' });
    expect(third.commit?.escalation?.message).toContain("expected result.body.status == 'healthy' within 3s");
  });
});

describe('decide: rollback', () => {
  const undo = (id: string) => ({ spec: { action: 'http' as const, with: { system: 'svc', method: 'DELETE', path: tpl(`/${id}`), headers: {}, query: {} } }, repeat: 'keyed' as const });

  it('compensates completed steps newest first, then ends rolled_back', () => {
    const p = plan([httpStep('a', { compensate: undo('a') }), httpStep('b', { compensate: undo('b') }), httpStep('c', { onFailure: { mode: 'rollback' }, retry: {} })]);
    const task = taskView(p, {
      currentStep: 'c',
      cursor: { phase: 'action' },
      steps: { a: { status: 'succeeded', attempts: 1, captures: {} }, b: { status: 'succeeded', attempts: 1, captures: {} }, c: { status: 'pending', attempts: 0, captures: {} } },
    });
    const d1 = decide(task, p, claimed, env());
    const d2 = decide(apply(task, d1), p, finished(d1, http(409)), env());
    expect(d2.commit?.to).toBe('compensating');
    expect(d2.next).toMatchObject({ type: 'perform', attempt: { step: 'b', kind: 'compensate', idempotencyKey: 'tsk_test:b:compensate' } });
    let t = apply(apply(task, d1), d2);
    const d3 = decide(t, p, finished(d2, http(200)), env());
    expect(d3.next).toMatchObject({ type: 'perform', attempt: { step: 'a', kind: 'compensate' } });
    t = apply(t, d3);
    const d4 = decide(t, p, finished(d3, http(200)), env());
    expect(d4.commit?.to).toBe('rolled_back');
    expect(apply(t, d4).steps).toMatchObject({ a: { status: 'compensated' }, b: { status: 'compensated' }, c: { status: 'failed' } });
  });

  it('a compensation that keeps failing escalates compensation_failed', () => {
    const p = plan([httpStep('a', { compensate: undo('a') }), httpStep('b', { onFailure: { mode: 'rollback' }, retry: {} })]);
    const task = taskView(p, { state: 'compensating', currentStep: 'b', cursor: { compensation: { queue: ['a'], failures: 0 } }, steps: { a: { status: 'succeeded', attempts: 1, captures: {} }, b: { status: 'failed', attempts: 1, captures: {} } } });
    const d1 = decide(task, p, claimed, env());
    const d2 = decide(apply(task, d1), p, finished(d1, http(403)), env());
    expect(d2.commit?.escalation).toMatchObject({ kind: 'compensation_failed', step: 'a' });
  });
});

describe('decide: gates, waits, guards, decisions', () => {
  it('a guard that denies escalates off_policy before the step runs', () => {
    const p = plan([httpStep('a')], { policy: { deadlineMs: 1, retryBudget: 1, allowExec: [], guards: [{ name: 'freeze', deny: expr('env.FREEZE', (c) => c.env.FREEZE === 'true'), message: 'frozen' }] } });
    const d = decide(taskView(p), p, claimed, env(T0, { env: { FREEZE: 'true' } }));
    expect(d.commit?.escalation).toMatchObject({ kind: 'off_policy', failureClass: 'off_policy', step: 'a' });
    expect(d.commit?.startAttempt).toBeUndefined();
    expect(d.commit?.events.find((e) => e.type === 'guard.checked')?.data).toMatchObject({ verdict: 'denied' });
  });

  it('an approval gate waits for a person, then runs the step', () => {
    const p = plan([httpStep('charge', { approval: { route: 'finance', when: expr('big', () => true) } })]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.commit?.to).toBe('awaiting_approval');
    expect(d.commit?.escalation?.kind).toBe('approval_required');
    const asked = apply(taskView(p), d);
    const approved = { ...asked, state: 'running' as const, cursor: { ...asked.cursor, step: { ...asked.cursor.step, approval: { granted: true, by: 'ana' } } } };
    const d2 = decide(approved, p, claimed, env());
    expect(d2.next).toMatchObject({ type: 'perform', attempt: { step: 'charge' } });
  });

  it('a wait step parks the task with a hashed token and a timeout, and takes the callback data', () => {
    const p = plan([httpStep('wait-ack', { spec: { action: 'wait', with: { withinMs: 60_000 } }, changes: false, repeat: 'safe' })]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.commit?.to).toBe('waiting_callback');
    expect(d.commit?.patch.callbackTokenHash).toBe('hash:cb_token1');
    expect(d.commit?.patch.nextAttemptAt).toEqual(new Date(T0.getTime() + 60_000));
    expect(JSON.stringify(d.commit?.events)).not.toContain('cb_token1');
    const t = apply(taskView(p), d);
    // What the store keeps of the wait: the hashed token the callback is matched by, and its wake time.
    expect(t).toMatchObject({ callbackTokenHash: 'hash:cb_token1', nextAttemptAt: new Date(T0.getTime() + 60_000), state: 'waiting_callback' });
    const waiting = t.cursor.phase;
    if (waiting.at !== 'waiting') throw new Error(`expected the task waiting, its cursor is ${waiting.at}`);
    const arrived = { ...t, state: 'running' as const, cursor: { ...t.cursor, phase: { ...waiting, data: { ok: true } } } };
    const d2 = decide(arrived, p, claimed, env());
    expect(d2.commit?.to).toBe('completed');
    expect(d2.commit?.patch.steps?.['wait-ack']?.captures).toEqual({ ok: true });
    const late = decide({ ...t, state: 'running' }, p, claimed, env(new Date(T0.getTime() + 60_000)));
    expect(late.commit?.escalation?.kind).toBe('callback_timeout');
  });

  it('a runbook with a wait step gets one callback token at its first decision, visible to earlier steps', () => {
    const p = plan([
      httpStep('order', { capture: { sent: expr('task.callbackToken', (c) => (c.task as { callbackToken?: string }).callbackToken) } }),
      httpStep('wait-ack', { spec: { action: 'wait', with: { withinMs: 60_000 } }, changes: false, repeat: 'safe' }),
    ]);
    const d = decide(taskView(p), p, claimed, env());
    expect(d.commit?.patch.cursor?.callbackToken).toBe('cb_token1');
    const t = apply(taskView(p), d);
    const d2 = decide(t, p, finished(d, http(200)), env());
    expect(d2.commit?.patch.steps?.order?.captures).toEqual({ sent: 'cb_token1' });
    expect(d2.commit?.to).toBe('waiting_callback');
    // The wait uses the same token the first step handed out.
    expect(d2.commit?.patch.callbackTokenHash).toBe('hash:cb_token1');
    expect(d2.commit?.patch.cursor).toMatchObject({ callbackToken: 'cb_token1', phase: { at: 'waiting' } });
  });

  const decideStep = httpStep('choose', {
    spec: {
      action: 'decide',
      with: {
        question: 'which?',
        show: [],
        options: [
          { id: 'restart', goto: 'restart', escalate: false, when: expr('degraded', () => true) },
          { id: 'failover', goto: 'failover', escalate: false, when: expr('prod', () => false) },
        ],
        minConfidence: 0.7,
      },
    },
    changes: false,
    repeat: 'safe',
  });
  const p = plan([decideStep, httpStep('failover'), httpStep('restart')]);
  const propose = (option: string, confidence: number) => ({ kind: 'result' as const, result: { option, rationale: 'because', confidence, model: 'm' } });

  it('an offered option with enough confidence is followed', () => {
    const { second } = runOnce(p, propose('restart', 0.9));
    expect(second.next).toMatchObject({ type: 'perform', attempt: { step: 'restart' } });
    expect(second.commit?.patch.steps?.failover?.status).toBe('skipped');
  });

  it('an option that was not offered is refused as off_policy', () => {
    const { second } = runOnce(p, propose('failover', 0.99));
    expect(second.commit?.escalation).toMatchObject({ kind: 'off_policy', failureClass: 'off_policy' });
    expect(second.commit?.events.find((e) => e.type === 'agent.proposal')?.data).toMatchObject({ accepted: false, option: 'failover' });
  });

  it('a made-up option is refused, and low confidence escalates as ambiguous', () => {
    expect(runOnce(p, propose('drop-database', 1)).second.commit?.escalation?.kind).toBe('off_policy');
    expect(runOnce(p, propose('restart', 0.2)).second.commit?.escalation?.kind).toBe('ambiguous_state');
  });

  it('without a model the fallback decides', () => {
    const noModel = { kind: 'error' as const, code: 'NO_MODEL', message: 'no model configured' };
    expect(runOnce(p, noModel).second.commit?.escalation?.kind).toBe('ambiguous_state');
    const withFallback = plan([{ ...decideStep, fallback: 'restart' }, httpStep('failover'), httpStep('restart')]);
    expect(runOnce(withFallback, noModel).second.next).toMatchObject({ type: 'perform', attempt: { step: 'restart' } });
  });
});

describe('decide: the agent guard, model calls and the call cap', () => {
  const options = [
    { id: 'restart', goto: 'restart', escalate: false, when: expr('degraded', () => true) },
    { id: 'failover', goto: 'failover', escalate: false, when: expr('prod', () => false) },
    { id: 'hand-to-human', escalate: true },
  ];
  const choose = (over: Partial<CompiledStep> = {}, opts = options) =>
    httpStep('choose', { spec: { action: 'decide', with: { question: 'which?', show: [], options: opts, minConfidence: 0.7 } }, changes: false, repeat: 'safe', ...over });
  const p = plan([choose(), httpStep('failover'), httpStep('restart')]);
  const answer = (over: Record<string, unknown> = {}) => ({
    kind: 'result' as const,
    result: { option: 'restart', rationale: 'health says degraded', confidence: 0.9, model: 'm-1', latencyMs: 42, tokens: { input: 120, output: 30 }, ...over },
  });
  const eventData = (d: Decision, type: string) => d.commit?.events.filter((e) => e.type === type).map((e) => e.data) ?? [];

  it('follows a valid choice, records the call and the verdict, and keeps the rationale out of the captures', () => {
    const { second, task } = runOnce(p, answer());
    expect(second.next).toMatchObject({ type: 'perform', attempt: { step: 'restart' } });
    expect(eventData(second, 'agent.call')).toEqual([{ model: 'm-1', latencyMs: 42, tokens: { input: 120, output: 30 }, ok: true }]);
    expect(eventData(second, 'agent.proposal')).toEqual([
      expect.objectContaining({ model: 'm-1', option: 'restart', rationale: 'health says degraded', confidence: 0.9, offered: ['restart', 'hand-to-human'], accepted: true, verdict: 'accepted' }),
    ]);
    // A later step can branch on the option, but no text of the model's reaches its parameters.
    expect(task.steps.choose?.captures).toEqual({ option: 'restart', confidence: 0.9 });
  });

  it('refuses an answer that did not parse, with the raw text on the record, and runs nothing', () => {
    const { second } = runOnce(p, answer({ option: '', confidence: Number.NaN, problem: 'the answer is not JSON', raw: 'I think restart' }));
    expect(second.commit?.escalation).toMatchObject({ kind: 'off_policy', failureClass: 'off_policy', step: 'choose' });
    expect(eventData(second, 'agent.proposal')[0]).toMatchObject({ accepted: false, verdict: 'off_policy', why: 'the answer is not JSON', raw: 'I think restart' });
    expect(second.next.type).toBe('release');
    expect(second.commit?.startAttempt).toBeUndefined();
  });

  it('refuses a late answer even when the option was offered', () => {
    const { second } = runOnce(p, answer({ problem: "answered after the step's timeout of 50ms" }));
    expect(second.commit?.escalation?.kind).toBe('off_policy');
    expect(second.commit?.patch.steps?.restart?.status).toBe('pending');
  });

  it('an accepted option that escalates hands over with the decision done', () => {
    const { second } = runOnce(p, answer({ option: 'hand-to-human' }));
    expect(second.commit?.escalation).toMatchObject({ kind: 'ambiguous_state', failureClass: null });
    expect(second.commit?.patch.steps?.choose?.status).toBe('succeeded');
  });

  it('a model error escalates cleanly: the call is on the record and no action runs', () => {
    const refused = { kind: 'error' as const, code: 'MODEL_ERROR', failureClass: 'permission' as const, message: 'model m-1: 401 bad key', maybeApplied: false, agent: { model: 'm-1', latencyMs: 8 } };
    const { second } = runOnce(p, refused);
    expect(second.commit?.escalation).toMatchObject({ kind: 'non_retryable', failureClass: 'permission', step: 'choose' });
    expect(eventData(second, 'agent.call')).toEqual([{ model: 'm-1', latencyMs: 8, tokens: null, ok: false, error: 'model m-1: 401 bad key' }]);
    expect(eventData(second, 'agent.proposal')).toEqual([]);
    expect(second.next.type).toBe('release');
    expect(second.commit?.patch.steps?.restart?.status).toBe('pending');
  });

  it('a model that did not answer in time is retried by the step policy, counted against the cap', () => {
    const timedOut = { kind: 'error' as const, code: 'TIMEOUT', failureClass: 'timeout' as const, message: 'no answer within 50ms', maybeApplied: false, agent: { model: 'm-1', latencyMs: 50 } };
    const { second, task } = runOnce(p, timedOut);
    expect(second.commit?.to).toBe('retry_scheduled');
    expect(task.cursor.agentCalls).toBe(1);
    const retry = decide({ ...task, state: 'running' }, p, claimed, env());
    expect(retry.next).toMatchObject({ type: 'perform', attempt: { step: 'choose', attempt: 2 } });
    expect(retry.commit?.patch.cursor?.agentCalls).toBe(2);
  });

  it('stops asking the model at the cap: escalates budget_exhausted, or follows a named fallback', () => {
    const capped = taskView(p, { cursor: { agentCalls: 3 } });
    const d = decide(capped, p, claimed, env(T0, { agentCallCap: 3 }));
    expect(d.next.type).toBe('release');
    expect(d.commit?.startAttempt).toBeUndefined();
    expect(d.commit?.escalation).toMatchObject({ kind: 'budget_exhausted', step: 'choose' });
    expect(d.commit?.escalation?.message).toMatch(/cap of 3 model calls/);

    const withFallback = plan([choose({ fallback: 'restart' }), httpStep('failover'), httpStep('restart')]);
    const f = decide(taskView(withFallback, { cursor: { agentCalls: 10 } }), withFallback, claimed, env());
    expect(f.next).toMatchObject({ type: 'perform', attempt: { step: 'restart' } });
    expect(eventData(f, 'agent.proposal')[0]).toMatchObject({ model: null, option: 'restart', fallback: 'restart', accepted: true });
  });

  it('under the cap the call starts and is counted', () => {
    const d = decide(taskView(p, { cursor: { agentCalls: 2 } }), p, claimed, env(T0, { agentCallCap: 3 }));
    expect(d.next).toMatchObject({ type: 'perform', attempt: { step: 'choose' } });
    expect(d.commit?.patch.cursor?.agentCalls).toBe(3);
  });

  it('without a model no call is counted, and a fallback that is not offered is refused', () => {
    const noModel = { kind: 'error' as const, code: 'NO_MODEL', message: 'no model configured' };
    expect(runOnce(p, noModel).task.cursor.agentCalls).toBe(0);
    const offPolicyFallback = plan([choose({ fallback: 'failover' }), httpStep('failover'), httpStep('restart')]);
    expect(runOnce(offPolicyFallback, noModel).second.commit?.escalation?.kind).toBe('off_policy');
  });

  it('with no option offered it escalates before asking anyone', () => {
    const none = plan([choose({}, [options[1]!]), httpStep('failover'), httpStep('restart')]);
    const d = decide(taskView(none), none, claimed, env());
    expect(d.next.type).toBe('release');
    expect(d.commit?.startAttempt).toBeUndefined();
    expect(d.commit?.escalation).toMatchObject({ kind: 'ambiguous_state', failureClass: 'ambiguous', step: 'choose' });
  });
});

describe('decide: stopping and cancelling', () => {
  it('a stopping worker records the outcome and hands the task back before the next attempt', () => {
    const p = plan([httpStep('a'), httpStep('b')]);
    const first = decide(taskView(p), p, claimed, env());
    const second = decide(apply(taskView(p), first), p, finished(first, http(200)), env(T0, { stopping: true }));
    expect(second.commit?.finishAttempts?.[0]).toMatchObject({ step: 'a', outcome: 'succeeded' });
    expect(second.commit?.startAttempt).toBeUndefined();
    expect(second.commit?.to).toBe('queued');
    expect(second.next.type).toBe('release');
  });

  it('a cancel that cuts an attempt off records it as human_aborted and schedules nothing', () => {
    const p = plan([httpStep('a'), httpStep('b')]);
    const first = decide(taskView(p), p, claimed, env());
    const t = { ...apply(taskView(p), first), cancelRequested: true };
    const second = decide(t, p, finished(first, { kind: 'error', code: 'ABORTED', message: 'aborted', maybeApplied: true, failureClass: 'transient' }), env());
    expect(second.commit?.to).toBe('cancelled');
    expect(second.commit?.finishAttempts?.[0]).toMatchObject({ outcome: 'failed', failureClass: 'human_aborted' });
    expect(second.commit?.events.map((e) => e.type)).toEqual(['attempt.finished']);
    expect(second.commit?.patch.retryUsed).toBe(0);
    expect(second.commit?.patch.nextAttemptAt).toBeUndefined();
  });

  it('a cancel requested while running stops at the next safe point', () => {
    const p = plan([httpStep('a'), httpStep('b')]);
    const first = decide(taskView(p), p, claimed, env());
    const t = { ...apply(taskView(p), first), cancelRequested: true };
    const second = decide(t, p, finished(first, http(200)), env());
    expect(second.commit?.to).toBe('cancelled');
    expect(second.commit?.finishAttempts?.[0]?.outcome).toBe('succeeded');
  });
});


/**
 * The task view is where a task becomes something shown (show, show --json, submit --json, the
 * API): sensitive inputs masked at their path and by value everywhere in it, secrets too, and any
 * stored row, however odd, shown rather than thrown on.
 */
import { describe, expect, it } from 'vitest';
import type { CompiledRunbook } from '../../src/runbook/plan.js';
import { createMasker, MAX_MASK_DEPTH, TOO_DEEP } from '../../src/secrets/mask.js';
import { boundedValue, MAX_VIEW_DEPTH, NOT_SHOWN_DEEP, taskView, viewNeedsRunbook } from '../../src/store/task-view.js';
import type { EventRow, TaskRow } from '../../src/store/tasks.js';

const at = new Date('2026-01-01T10:00:00Z');
const EMAIL = 'planted.person@example.com';

function row(extra: Partial<TaskRow> = {}): TaskRow {
  return {
    id: 'tsk_a', externalRef: 'ORD-1', taskClass: 'order.onboard', runbookId: 'order-onboarding', runbookVersion: 1, runbookHash: null, requestedBy: 'shop',
    input: { order: 'ord_1', email: EMAIL, contact: { phone: '+44 20 7946 0000' } }, priority: 0, state: 'completed', currentStep: null,
    steps: { 'send-welcome': { status: 'succeeded', attempts: 1, captures: { to: EMAIL, messageId: 'msg_1' } } }, cursor: {},
    retryUsed: 0, retryLimit: 5, deadlineAt: null, nextAttemptAt: null, leaseOwner: null, leaseExpiresAt: null, leaseEpoch: 0, callbackTokenHash: null,
    cancelRequested: false, rejection: null, escalation: null, awaitingRole: null, concurrencyKey: null, concurrencyLimit: null, eventSeq: 2, createdAt: at, updatedAt: at, ...extra,
  };
}

const event = (seq: number, type: EventRow['type'], data: Record<string, unknown>): EventRow => ({ seq, at, type, step: null, actor: 'worker:w', data });
const plan = { id: 'order-onboarding', steps: [{ id: 'send-welcome' }], sensitiveInputs: ['email', 'contact.phone'] } as unknown as CompiledRunbook;

describe('taskView masks sensitive inputs', () => {
  it('at their path and by value wherever they turn up, from the runbook', () => {
    const v = taskView(row(), [event(1, 'intake.accepted', {}), event(2, 'attempt.finished', { body: `sent to ${EMAIL}` })], plan);
    expect(v.input).toEqual({ order: 'ord_1', email: '***', contact: { phone: '***' } });
    const text = JSON.stringify(v);
    expect(text).not.toContain(EMAIL);
    expect(text).not.toContain('7946');
    expect(v.steps[0]!.captures).toEqual({ to: '***', messageId: 'msg_1' });
  });

  it('from what intake recorded, when the runbook is not loaded', () => {
    const v = taskView(row(), [event(1, 'intake.accepted', { sensitiveInputs: ['email'] }), event(2, 'step.succeeded', { note: EMAIL })]);
    expect(v.input.email).toBe('***');
    expect(JSON.stringify(v)).not.toContain(EMAIL);
  });

  it('and the deployment secrets when given a masker', () => {
    const v = taskView(row({ escalation: { kind: 'non_retryable', failureClass: 'permission', step: null, message: 'Bearer tok-abcdef123456 refused', at: at.toISOString() } }), [], plan, {
      masker: createMasker(['tok-abcdef123456']),
    });
    expect(v.escalation?.message).toBe('Bearer *** refused');
  });
});

describe('taskView without the runbook', () => {
  it('orders the steps and masks the inputs by what intake recorded, so show need not load the runbooks', () => {
    const steps = { b: { status: 'pending', attempts: 0, captures: {} }, a: { status: 'pending', attempts: 0, captures: {} }, c: { status: 'pending', attempts: 0, captures: {} } };
    const accepted = event(1, 'intake.accepted', { runbook: 'order-onboarding', steps: ['c', 'a', 'b'], sensitiveInputs: ['email'] });
    const v = taskView(row({ steps: steps as TaskRow['steps'] }), [accepted]);
    expect(v.steps.map((s) => s.id)).toEqual(['c', 'a', 'b']);
    expect(v.input.email).toBe('***');
    expect(viewNeedsRunbook([accepted])).toBe(false);
    // A task accepted before intake recorded them needs the runbook; a rejected one never does.
    expect(viewNeedsRunbook([event(1, 'intake.accepted', { runbook: 'x' })])).toBe(true);
    expect(viewNeedsRunbook([event(1, 'intake.rejected', {})])).toBe(false);
  });
});

describe('taskView on any stored row', () => {
  it('cuts values nested deeper than it shows, at any depth, without overflowing', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    const v = taskView(row({ input: { deep } as Record<string, unknown> }), [event(1, 'attempt.finished', { deep })]);
    const text = JSON.stringify(v);
    expect(text).toContain(NOT_SHOWN_DEEP);
    expect(text).not.toContain('bottom');
    let node: unknown = v.input.deep;
    let depth = 1;
    while (node && typeof node === 'object') {
      node = (node as { a: unknown }).a;
      depth += 1;
    }
    expect(depth).toBe(MAX_VIEW_DEPTH);
  });

  it('shows a step record of the wrong shape, a cursor that is no object and events without data', () => {
    const odd = row({
      steps: { x: 'not a record', y: { status: 'failed', attempts: 'two', note: { why: 1 } } } as unknown as TaskRow['steps'],
      cursor: null as unknown as TaskRow['cursor'],
      input: [] as unknown as TaskRow['input'],
    });
    const v = taskView(odd, [{ ...event(1, 'step.failed', {}), data: null as unknown as Record<string, unknown> }]);
    expect(v.steps.map((s) => [s.id, s.status, s.attempts, s.note])).toEqual([
      ['x', 'pending', 0, null],
      ['y', 'failed', 0, '{"why":1}'],
    ]);
    expect(v.input).toEqual({});
    expect(v.events[0]!.data).toEqual({});
    expect(v.callback).toBeNull();
  });

  it('boundedValue keeps shallow values as they are', () => {
    expect(boundedValue({ a: [1, { b: null }], c: 'x' })).toEqual({ a: [1, { b: null }], c: 'x' });
  });
});

describe('the masker on deep values', () => {
  it('replaces what lies deeper than it walks instead of overflowing the stack or passing it on unmasked', () => {
    let deep: unknown = 'secret-value-1234';
    for (let i = 0; i < 50_000; i++) deep = [deep];
    const masked = JSON.stringify(boundedValue(createMasker(['secret-value-1234']).maskValue(deep), MAX_MASK_DEPTH + 5));
    expect(masked).toContain(TOO_DEEP);
    expect(masked).not.toContain('secret-value-1234');
  });
});

import { describe, expect, it } from 'vitest';
import { freshCursor, readCursor, type Cursor } from './cursor.js';

const running = { state: 'running' as const, currentStep: 'charge' };

describe('readCursor: the stored cursor, upgraded from its earlier shape', () => {
  it('takes a version-2 cursor as it is, and a new task (intake stores {}) as a fresh one', () => {
    const c: Cursor = { v: 2, phase: { at: 'verifying', check: 1, startedAt: '2026-01-01T00:00:00.000Z', polls: 2 }, step: { key: 'k' }, counters: { 'action:a': 1 } };
    expect(readCursor(c, running)).toEqual(c);
    expect(readCursor({}, { state: 'queued', currentStep: null })).toEqual(freshCursor());
    expect(readCursor(null, { state: 'queued', currentStep: null })).toEqual(freshCursor());
  });

  it('maps each phase of the earlier shape to its member, with only its own data', () => {
    const base = { counters: { 'action:charge': 2 }, callbackToken: 'cb_1', agentCalls: 1, partial: true };
    const up = (old: Record<string, unknown>, owner = running) => readCursor({ ...base, ...old }, owner);
    expect(up({ phase: 'probe', probeFirst: true, key: 'tsk:charge', failures: { transient: 1 } })).toEqual({
      v: 2,
      phase: { at: 'probing' },
      step: { key: 'tsk:charge', failures: { transient: 1 } },
      counters: { 'action:charge': 2 },
      callbackToken: 'cb_1',
      agentCalls: 1,
      partial: true,
    });
    expect(up({ phase: 'refresh', refresh: ['read'], probeFirst: true }).phase).toEqual({ at: 'refreshing', queue: ['read'], probeFirst: true });
    expect(up({ phase: 'action', verify: { index: 1, startedAt: 'x', polls: 3 } }).phase).toEqual({ at: 'attempting' });
    expect(up({ phase: 'verify', verify: { index: 1, startedAt: '2026-01-01T00:00:00.000Z', polls: 3 } }).phase).toEqual({ at: 'verifying', check: 1, startedAt: '2026-01-01T00:00:00.000Z', polls: 3 });
    expect(up({ phase: 'next' }).phase).toEqual({ at: 'settled' });
    expect(up({ phase: 'enter', probeFirst: true }).phase).toEqual({ at: 'entering', probeFirst: true });
    expect(up({}).phase).toEqual({ at: 'entering' });
  });

  it("keeps a wait's callback and an approval only for the current step", () => {
    const wait = { state: 'waiting_callback' as const, currentStep: 'wait-ack' };
    const cb = { step: 'wait-ack', token: 'cb_1', timeoutAt: '2026-01-01T00:01:00.000Z', data: { ok: 1 }, receivedAt: '2026-01-01T00:00:30.000Z' };
    expect(readCursor({ phase: 'enter', callback: cb }, wait).phase).toEqual({ at: 'waiting', timeoutAt: cb.timeoutAt, data: { ok: 1 }, receivedAt: cb.receivedAt });
    expect(readCursor({ phase: 'enter', callback: { ...cb, step: 'earlier' } }, wait).phase).toEqual({ at: 'entering' });
    const gate = { state: 'awaiting_approval' as const, currentStep: 'charge' };
    expect(readCursor({ phase: 'enter', approval: { step: 'charge', granted: true, by: 'ana', note: 'ok' } }, gate).step).toEqual({ approval: { granted: true, by: 'ana', note: 'ok' } });
    expect(readCursor({ phase: 'enter', approval: { step: 'other', granted: true } }, gate).step).toEqual({});
  });

  it('a rollback in progress, or handed over after it failed, is the compensating phase; a leftover one is dropped', () => {
    const comp = { queue: ['b', 'a'], failures: 1 };
    expect(readCursor({ phase: 'action', compensation: comp }, { state: 'compensating', currentStep: 'c' }).phase).toEqual({ at: 'compensating', queue: ['b', 'a'], failures: 1 });
    expect(readCursor({ phase: 'action' }, { state: 'compensating', currentStep: 'c' }).phase).toEqual({ at: 'compensating', failures: 0 });
    expect(readCursor({ phase: 'action', compensation: comp }, { state: 'escalated', currentStep: 'c', escalationKind: 'compensation_failed' }).phase).toEqual({ at: 'compensating', queue: ['b', 'a'], failures: 1 });
    expect(readCursor({ phase: 'enter', compensation: comp }, { state: 'running', currentStep: 'c', escalationKind: 'compensation_failed' }).phase).toEqual({ at: 'entering' });
  });

  it('with no current step, nothing of a step is kept', () => {
    const done = readCursor({ phase: 'verify', key: 'k', failures: { transient: 2 }, verify: { index: 0, startedAt: 'x', polls: 1 }, counters: { 'action:a': 1 } }, { state: 'completed', currentStep: null });
    expect(done).toEqual({ v: 2, phase: { at: 'idle' }, step: {}, counters: { 'action:a': 1 } });
  });
});

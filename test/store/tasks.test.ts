/**
 * applyChange beyond the table: the ledger's numbering and contents, the state and lease
 * expectations, patches, atomicity inside a caller's transaction, and the reads.
 */
import { expect, it } from 'vitest';
import { isRunwardenError, type RunwardenError } from '../../src/errors.js';
import { applyChange, getTask, listEvents, listTasks } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { seedTask } from '../helpers/seed.js';

async function refusal(p: Promise<unknown>): Promise<RunwardenError> {
  try {
    await p;
  } catch (err) {
    if (isRunwardenError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal, the change was applied');
}

describeBackends('applyChange and the ledger', ({ db }) => {
  it('numbers events 1, 2, 3... with no gaps, in the order written, at the clock the caller passed', async () => {
    const clock = fakeClock('2025-03-01T10:00:00Z');
    const t = await seedTask(db(), { now: clock.now() });
    clock.advance(1000);
    await applyChange(db(), {
      taskId: t.id,
      now: clock.now(),
      to: 'running',
      patch: { currentStep: 'one', leaseOwner: 'w1', leaseExpiresAt: new Date(clock.now().getTime() + 30_000) },
      events: [
        { type: 'lease.acquired', actor: 'worker:w1', data: { worker: 'w1' } },
        { type: 'step.started', step: 'one', actor: 'worker:w1' },
      ],
    });
    clock.advance(2500);
    const done = await applyChange(db(), {
      taskId: t.id,
      now: clock.now(),
      to: 'completed',
      expect: { states: ['running'], leaseOwner: 'w1' },
      patch: { currentStep: null, leaseOwner: null, leaseExpiresAt: null, steps: { one: { status: 'succeeded', attempts: 1, captures: { id: 'x1' } } } },
      events: [{ type: 'step.succeeded', step: 'one', actor: 'worker:w1', data: { captures: { id: 'x1' } } }],
    });
    expect(done).toMatchObject({ state: 'completed', currentStep: null, leaseOwner: null, eventSeq: 6, steps: { one: { status: 'succeeded', captures: { id: 'x1' } } } });
    const events = await listEvents(db(), t.id);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.map((e) => [e.type, e.step, e.actor, e.at.toISOString()])).toEqual([
      ['intake.accepted', null, 'test', '2025-03-01T10:00:00.000Z'],
      ['lease.acquired', 'one', 'worker:w1', '2025-03-01T10:00:01.000Z'],
      ['step.started', 'one', 'worker:w1', '2025-03-01T10:00:01.000Z'],
      ['state.changed', 'one', 'worker:w1', '2025-03-01T10:00:01.000Z'],
      ['step.succeeded', 'one', 'worker:w1', '2025-03-01T10:00:03.500Z'],
      // state.changed takes the step the task was on after the change unless the change names one
      ['state.changed', null, 'worker:w1', '2025-03-01T10:00:03.500Z'],
    ]);
    expect(events[1]!.data).toEqual({ worker: 'w1' });
    expect(events[3]!.data).toEqual({ from: 'queued', to: 'running' });
    expect(events[4]!.data).toEqual({ captures: { id: 'x1' } });
    expect(events[5]!.data).toEqual({ from: 'running', to: 'completed' });
  });

  it('applies a patch without a state change, with no state.changed event', async () => {
    const t = await seedTask(db(), { state: 'escalated' });
    const at = new Date('2025-01-02T00:00:00Z');
    const after = await applyChange(db(), {
      taskId: t.id,
      now: at,
      patch: { cursor: { phase: 'enter', list: [1, 2] }, retryUsed: 2, nextAttemptAt: at, escalation: { kind: 'off_policy', failureClass: null, step: 'one', message: 'm', at: at.toISOString() } },
      events: [{ type: 'packet.emitted', actor: 'worker:w1' }],
    });
    expect(after).toMatchObject({ state: 'escalated', retryUsed: 2, nextAttemptAt: at, cursor: { phase: 'enter', list: [1, 2] }, escalation: { kind: 'off_policy' } });
    const events = await listEvents(db(), t.id);
    expect(events.at(-1)).toMatchObject({ seq: t.eventSeq + 1, type: 'packet.emitted', data: {} });
  });

  it('refuses a change when the task is not in an expected state, even when the table allows it', async () => {
    const t = await seedTask(db(), { state: 'escalated' });
    const err = await refusal(applyChange(db(), { taskId: t.id, now: new Date(), to: 'queued', expect: { states: ['in_handover'] }, events: [] }));
    expect(err.code).toBe('ILLEGAL_TRANSITION');
    expect(err.message).toMatch(/is escalated, not in_handover as this change expected to go to queued/);
    const patchOnly = await refusal(applyChange(db(), { taskId: t.id, now: new Date(), expect: { states: ['running'] }, patch: { priority: 5 }, events: [] }));
    expect(patchOnly.code).toBe('ILLEGAL_TRANSITION');
    expect(await getTask(db(), t.id)).toMatchObject({ state: 'escalated', priority: 0, eventSeq: t.eventSeq });
  });

  it('fences on the lease: another owner gets LEASE_LOST naming the holder, and nothing is written', async () => {
    const t = await seedTask(db());
    const held = await applyChange(db(), { taskId: t.id, now: new Date(), to: 'running', patch: { leaseOwner: 'w1' }, events: [{ type: 'lease.acquired', actor: 'worker:w1' }] });
    const err = await refusal(
      applyChange(db(), { taskId: t.id, now: new Date(), to: 'completed', expect: { leaseOwner: 'w2' }, events: [{ type: 'step.succeeded', actor: 'worker:w2' }] }),
    );
    expect(err.code).toBe('LEASE_LOST');
    expect(err.details).toMatchObject({ owner: 'w1', expected: 'w2' });
    expect(err.retryable).toBe(true);
    expect(await getTask(db(), t.id)).toMatchObject({ state: 'running', leaseOwner: 'w1', eventSeq: held.eventSeq });
    // A released lease is lost too.
    await applyChange(db(), { taskId: t.id, now: new Date(), patch: { leaseOwner: null }, expect: { leaseOwner: 'w1' }, events: [] });
    expect((await refusal(applyChange(db(), { taskId: t.id, now: new Date(), expect: { leaseOwner: 'w1' }, events: [] }))).details).toMatchObject({ owner: null });
  });

  it('says TASK_NOT_FOUND for an unknown task', async () => {
    const err = await refusal(applyChange(db(), { taskId: 'tsk_nope', now: new Date(), to: 'running', events: [] }));
    expect(err.code).toBe('TASK_NOT_FOUND');
  });

  it('refuses a patch key that is not a column a change may set', async () => {
    const t = await seedTask(db());
    await expect(applyChange(db(), { taskId: t.id, now: new Date(), patch: { state: 'completed' } as never, events: [] })).rejects.toThrow(/state is not a column/);
  });

  it('is atomic with the caller: a transaction that fails leaves neither the change nor its events', async () => {
    const t = await seedTask(db());
    await expect(
      db().transaction(async (tx) => {
        await applyChange(tx, { taskId: t.id, now: new Date(), to: 'running', events: [{ type: 'lease.acquired', actor: 'worker:w1' }] });
        // A nested transaction joins the outer one.
        await tx.transaction(async (inner) => applyChange(inner, { taskId: t.id, now: new Date(), to: 'completed', events: [] }));
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await getTask(db(), t.id)).toMatchObject({ state: 'queued', eventSeq: 1 });
    expect(await listEvents(db(), t.id)).toHaveLength(1);
    // And the handle still works after the rollback (PGlite has one connection).
    const ok = await db().transaction((tx) => applyChange(tx, { taskId: t.id, now: new Date(), to: 'running', events: [] }));
    expect(ok.state).toBe('running');
  });

  it('finds a task by id or externalRef, and lists by state and runbook', async () => {
    const a = await seedTask(db(), { externalRef: 'INC-1', runbookId: 'rb-list', state: 'escalated' });
    const b = await seedTask(db(), { runbookId: 'rb-list' });
    expect((await getTask(db(), 'INC-1'))?.id).toBe(a.id);
    expect((await getTask(db(), a.id))?.externalRef).toBe('INC-1');
    expect(await getTask(db(), 'INC-none')).toBeUndefined();
    expect((await listTasks(db(), { runbook: 'rb-list' })).map((t) => t.id).sort()).toEqual([a.id, b.id].sort());
    expect((await listTasks(db(), { runbook: 'rb-list', state: 'escalated' })).map((t) => t.id)).toEqual([a.id]);
    expect(await listTasks(db(), { runbook: 'rb-list', limit: 1 })).toHaveLength(1);
  });

  it('delivers a NOTIFY to a listener, and only after commit inside a transaction', async () => {
    const got: string[] = [];
    let wake!: () => void;
    let arrived = new Promise<void>((r) => (wake = r));
    const unlisten = await db().listen('rw_test_channel', (p) => {
      got.push(p);
      wake();
    });
    try {
      await db().notify('rw_test_channel', 'one');
      await arrived;
      arrived = new Promise<void>((r) => (wake = r));
      await db().transaction(async (tx) => {
        await tx.notify('rw_test_channel', 'rolled-back');
        throw new Error('roll back');
      }).catch(() => undefined);
      await db().transaction((tx) => tx.notify('rw_test_channel', 'two'));
      await arrived;
      expect(got).toEqual(['one', 'two']);
    } finally {
      await unlisten();
    }
  });
});

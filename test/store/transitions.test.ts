/**
 * The transition table, applied by the store: every allowed transition moves the task and writes
 * `state.changed { from, to }` after the events that caused it; every other pair is refused with
 * ILLEGAL_TRANSITION, leaving the state, the ledger and event_seq untouched.
 */
import { expect, it } from 'vitest';
import { isRunwardenError } from '../../src/errors.js';
import { TRANSITIONS } from '../../src/lifecycle/transitions.js';
import { TASK_STATES, type TaskState } from '../../src/lifecycle/vocabulary.js';
import { applyChange, getTask, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { seedTask } from '../helpers/seed.js';

const NOW = new Date('2025-01-01T00:05:00Z');

const allowed = Object.entries(TRANSITIONS).flatMap(([from, tos]) => (tos as readonly TaskState[]).map((to) => ({ from: from as TaskState, to })));
const illegal = TASK_STATES.flatMap((from) =>
  TASK_STATES.filter((to) => !(TRANSITIONS[from] as readonly TaskState[]).includes(to)).map((to) => ({ from, to })),
);

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    if (isRunwardenError(err)) return { code: err.code, message: err.message, details: err.details };
    throw err;
  }
  throw new Error('expected a refusal, the change was applied');
}

describeBackends('transition table', ({ db }) => {
  it('has transitions to test (the table is not empty)', () => {
    expect(allowed.length).toBeGreaterThan(30);
    expect(illegal.length + allowed.length).toBe(TASK_STATES.length ** 2);
  });

  it.each(allowed)('allows $from -> $to, with state.changed after the event that caused it', async ({ from, to }) => {
    const before = await seedTask(db(), { state: from });
    expect(before.state).toBe(from);
    const after = await applyChange(db(), { taskId: before.id, now: NOW, to, events: [{ type: 'operator.action', actor: 'operator:ann', data: { why: 'test' } }] });
    expect(after.state).toBe(to);
    expect(after.eventSeq).toBe(before.eventSeq + 2);
    expect(after.updatedAt).toEqual(NOW);
    const events = await listEvents(db(), before.id);
    expect(events.slice(-2)).toMatchObject([
      { seq: before.eventSeq + 1, type: 'operator.action', actor: 'operator:ann', data: { why: 'test' }, at: NOW },
      { seq: before.eventSeq + 2, type: 'state.changed', actor: 'operator:ann', data: { from, to }, at: NOW },
    ]);
  });

  it.each(illegal)('refuses $from -> $to and changes nothing', async ({ from, to }) => {
    const before = await seedTask(db(), { state: from });
    const eventsBefore = await listEvents(db(), before.id);
    const err = await refusal(applyChange(db(), { taskId: before.id, now: NOW, to, patch: { priority: 9 }, events: [{ type: 'operator.action', actor: 'operator:ann' }] }));
    expect(err.code).toBe('ILLEGAL_TRANSITION');
    // The message names where it is, where it was asked to go, and what it may do instead.
    expect(err.message).toContain(`from ${from} to ${to}`);
    expect(err.message).toContain(`from ${from} it may go to`);
    expect(err.details).toMatchObject({ from, to, allowed: [...TRANSITIONS[from]] });
    const after = await getTask(db(), before.id);
    expect(after).toMatchObject({ state: from, eventSeq: before.eventSeq, priority: 0 });
    expect(await listEvents(db(), before.id)).toEqual(eventsBefore);
  });

  it('names the final states as having nowhere to go', async () => {
    const t = await seedTask(db(), { state: 'completed' });
    const err = await refusal(applyChange(db(), { taskId: t.id, now: NOW, to: 'queued', events: [] }));
    expect(err.message).toMatch(/from completed it may go to nothing \(it is final\)/);
  });
});

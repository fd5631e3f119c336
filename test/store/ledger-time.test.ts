/**
 * A task's ledger reads forward in time even when the processes writing it disagree about the
 * time: a worker whose clock runs behind another's (or an operator's) must not stamp an event
 * before one that came earlier in the ledger.
 */
import { expect, it } from 'vitest';
import { claimTasks } from '../../src/store/claim.js';
import { applyChange, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { seedTask } from '../helpers/seed.js';

const T0 = new Date('2025-06-01T12:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describeBackends('ledger time', ({ db }) => {
  it('never runs backwards within a task when two writers clocks disagree', async () => {
    const t = await seedTask(db(), { now: T0 });
    // Writer A's clock is 10 s ahead of writer B's.
    await applyChange(db(), { taskId: t.id, now: at(10_000), events: [{ type: 'operator.action', actor: 'operator:a', data: { note: 'ahead' } }] });
    // B claims the task with its clock behind A's, then writes a checkpoint, still behind.
    const [claimed] = await claimTasks(db(), { workerId: 'w-behind', now: at(4_000), leaseMs: 30_000, limit: 1 });
    expect(claimed?.task.id).toBe(t.id);
    await applyChange(db(), {
      taskId: t.id,
      now: at(5_000),
      expect: { leaseOwner: 'w-behind', leaseEpoch: claimed!.task.leaseEpoch },
      events: [{ type: 'step.started', step: 'one', actor: 'worker:w-behind' }],
    });
    // A writes again, now later than everything.
    await applyChange(db(), { taskId: t.id, now: at(12_000), events: [{ type: 'operator.action', actor: 'operator:a', data: { note: 'later' } }] });

    const events = await listEvents(db(), t.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const times = events.map((e) => e.at.getTime());
    for (let i = 1; i < times.length; i++) expect(times[i], `event ${events[i]!.seq} (${events[i]!.type})`).toBeGreaterThanOrEqual(times[i - 1]!);
    // The writers' own times are kept where they move forward.
    expect(events.at(-1)?.at.toISOString()).toBe(at(12_000).toISOString());
    expect(events[0]?.at.toISOString()).toBe(T0.toISOString());
  });
});

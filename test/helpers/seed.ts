/**
 * Tasks in any state for store tests, reached the way production reaches them: inserted by
 * intake's insert, then moved along the transition table by applyChange (shortest path), so a
 * seeded task carries a real ledger. `rejected` is only ever inserted.
 */
import { newId } from '../../src/ids.js';
import { TRANSITIONS } from '../../src/lifecycle/transitions.js';
import type { TaskState } from '../../src/lifecycle/vocabulary.js';
import type { Db } from '../../src/store/db.js';
import { insertTask } from '../../src/store/intake.js';
import { applyChange, type TaskRow } from '../../src/store/tasks.js';

/** The shortest path of states from `queued` to `to` (excluding `queued`). */
export function pathTo(to: TaskState): TaskState[] {
  const prev = new Map<TaskState, TaskState | null>([['queued', null]]);
  const queue: TaskState[] = ['queued'];
  while (queue.length) {
    const s = queue.shift()!;
    for (const n of TRANSITIONS[s] as readonly TaskState[]) {
      if (prev.has(n)) continue;
      prev.set(n, s);
      queue.push(n);
    }
  }
  if (!prev.has(to)) throw new Error(`${to} cannot be reached from queued`);
  const path: TaskState[] = [];
  for (let s: TaskState | null = to; s && s !== 'queued'; s = prev.get(s) ?? null) path.unshift(s);
  return path;
}

export async function seedTask(
  db: Db,
  opts: { state?: TaskState; now?: Date; externalRef?: string | null; taskClass?: string; runbookId?: string } = {},
): Promise<TaskRow> {
  const now = opts.now ?? new Date('2025-01-01T00:00:00Z');
  const state = opts.state ?? 'queued';
  const { task } = await insertTask(
    db,
    {
      id: newId('tsk'),
      externalRef: opts.externalRef ?? null,
      taskClass: opts.taskClass ?? 'test.task',
      runbookId: opts.runbookId ?? 'test-runbook',
      runbookVersion: 1,
      requestedBy: 'test',
      input: {},
      priority: 0,
      state: state === 'rejected' ? 'rejected' : 'queued',
      steps: { one: { status: 'pending', attempts: 0, captures: {} } },
      retryLimit: 3,
      deadlineAt: null,
      rejection: state === 'rejected' ? { kind: 'off_policy', problems: [] } : null,
      event: state === 'rejected' ? { type: 'intake.rejected', actor: 'test', data: {} } : { type: 'intake.accepted', actor: 'test', data: {} },
    },
    now,
  );
  if (state === 'rejected' || state === 'queued') return task;
  let t = task;
  for (const to of pathTo(state)) t = await applyChange(db, { taskId: t.id, now, to, events: [] });
  return t;
}

/**
 * The reads of the stuck-task watchdog (src/scheduler/stuck-tasks.ts): tasks a worker drives
 * (`running`, `compensating`) whose record has not moved since a given time, and the re-check
 * under the row lock that makes its escalation exact. Time is the caller's clock.
 */
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

/** States a worker drives under a lease: the only ones a dead or hung worker can leave stuck. */
export const DRIVEN_STATES: readonly TaskState[] = ['running', 'compensating'];

/** Driven tasks whose last change is before `before`, oldest first (at most `limit`, default 500). */
export async function quietTasks(db: Db, o: { before: Date; limit?: number }): Promise<TaskRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    'SELECT * FROM tasks WHERE state = ANY($1::text[]) AND updated_at < $2 ORDER BY updated_at, id LIMIT $3',
    [DRIVEN_STATES, o.before, o.limit ?? 500],
    { name: 'rw_quiet_tasks' },
  );
  return rows.map(mapTaskRow);
}

/**
 * Locks the task for the transaction and returns it only while it is exactly as seen: same
 * state, same claim (lease epoch) and no change since (`updated_at`). Undefined when it moved.
 */
export async function lockUnchanged(tx: Db, seen: Pick<TaskRow, 'id' | 'state' | 'leaseEpoch' | 'updatedAt'>): Promise<TaskRow | undefined> {
  const rows = await tx.query<Record<string, unknown>>(
    'SELECT * FROM tasks WHERE id = $1 AND state = $2 AND lease_epoch = $3 AND updated_at = $4 FOR UPDATE',
    [seen.id, seen.state, seen.leaseEpoch, seen.updatedAt],
    { name: 'rw_lock_unchanged' },
  );
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

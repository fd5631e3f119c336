/** The gauges `/metrics` reads from the database: cheap aggregate queries over indexed columns. */
import type { Db } from './db.js';

/** How many tasks are in each state (states with none are absent). */
export async function countTasksByState(db: Db): Promise<Record<string, number>> {
  const rows = await db.query<{ state: string; n: string | number }>('SELECT state, count(*) AS n FROM tasks GROUP BY state', [], { name: 'rw_metrics_tasks_by_state' });
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** Pending and dead outbox rows, and the age in seconds of the oldest pending one at `now`. */
export async function countOutbox(db: Db, now: Date): Promise<{ pending: number; dead: number; oldestPendingSeconds: number }> {
  const [r] = await db.query<{ pending: string | number; dead: string | number; oldest: Date | string | null }>(
    `SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
            count(*) FILTER (WHERE state = 'dead') AS dead,
            min(created_at) FILTER (WHERE state = 'pending') AS oldest
       FROM outbox WHERE state IN ('pending', 'dead')`,
    [],
    { name: 'rw_metrics_outbox' },
  );
  const oldest = r?.oldest ? new Date(r.oldest) : null;
  return { pending: Number(r?.pending ?? 0), dead: Number(r?.dead ?? 0), oldestPendingSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0 };
}

/**
 * The raw limit: one-statement durable transitions per second through `pg`, at a client count,
 * on the same database. Each client moves its own rows (`UPDATE ... WHERE id AND state`), one
 * autocommitted, prepared statement each, so this is what the database and the driver allow for
 * a fenced state change with nothing else around it.
 */
import type { Db } from '../../src/store/db.js';

export async function rawTransitions(db: Db, clients: number, ms: number): Promise<number> {
  await db.query('CREATE TABLE IF NOT EXISTS bench_raw (id int PRIMARY KEY, state int NOT NULL, seq int NOT NULL)');
  await db.query('TRUNCATE bench_raw');
  await db.query('INSERT INTO bench_raw SELECT g, 0, 0 FROM generate_series(1, $1::int) g', [clients * 64]);
  let count = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const state = new Map<number, number>();
      for (let i = 0; performance.now() < until; i++) {
        const id = c * 64 + (i % 64) + 1;
        const from = state.get(id) ?? 0;
        const rows = await db.query('UPDATE bench_raw SET state = $3, seq = seq + 1 WHERE id = $1 AND state = $2 RETURNING seq', [id, from, from + 1], { name: 'bench_raw_move' });
        if (rows.length !== 1) throw new Error('raw transition lost its row');
        state.set(id, from + 1);
        count++;
      }
    }),
  );
  return (count / (performance.now() - started)) * 1000;
}

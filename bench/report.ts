/**
 * What `runwarden report` costs on a large ledger: a million tasks (about seven million ledger
 * events) on PostgreSQL, seeded in SQL, and the report over the last day (about 1% of the tasks),
 * over the last day for one runbook, and over all time. Each window is timed without the
 * `tasks_created_idx` index (the baseline) and with it, in the same process on the same data.
 *
 *   npm run bench:report                 # 1,000,000 tasks
 *   npm run bench:report -- 200000
 *
 * Figures are ratios against the baseline run in the same process; not pass/fail thresholds.
 */
import { buildReport } from '../src/store/report.js';
import { openDb, type Db } from '../src/store/db.js';
import { dropPostgres, freshPostgres } from './pg.js';

const TASKS = Number(process.argv[2] ?? 1_000_000);
const DAYS = 100;
const NOW = Date.parse('2030-01-01T00:00:00Z');
const RUNS = 3;

/** Tasks spread evenly over DAYS days; 10% fail once (transient) and recover, 3% escalate and stay escalated. */
async function seed(db: Db): Promise<void> {
  const t0 = performance.now();
  const start = new Date(NOW - DAYS * 86_400_000);
  const span = DAYS * 86_400; // seconds
  await db.query(
    `INSERT INTO tasks (id, task_class, runbook_id, runbook_version, state, event_seq, created_at, updated_at)
     SELECT 'tsk_b' || g, 'bench.c' || (g % 3), 'rb-' || (g % 3), 1,
            CASE WHEN g % 33 = 0 THEN 'escalated' ELSE 'completed' END,
            6, $1::timestamptz + (g::float8 / $2 * $3) * interval '1 second', $1::timestamptz + (g::float8 / $2 * $3) * interval '1 second'
       FROM generate_series(1, $2::int) g`,
    [start, TASKS, span],
  );
  process.stderr.write(`  tasks in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
  // The ledger: two steps each started, attempted and succeeded; a failed attempt first for every tenth
  // task; an escalation at the second step for every 33rd; completion for the rest.
  await db.query(
    `INSERT INTO events (task_id, seq, at, type, step, actor, data)
     SELECT t.id, e.seq, t.created_at + e.seq * interval '1 second', e.type, e.step, 'worker:bench', e.data
       FROM tasks t
       CROSS JOIN LATERAL (VALUES
         (1, 'step.started', 's1', '{}'::jsonb),
         (2, 'attempt.finished', 's1', CASE WHEN right(t.id, 1) = '0' THEN '{"kind":"action","outcome":"failed","failureClass":"transient"}'::jsonb ELSE '{"kind":"action","outcome":"succeeded"}'::jsonb END),
         (3, 'step.succeeded', 's1', '{}'::jsonb),
         (4, 'step.started', 's2', '{}'::jsonb),
         (5, CASE WHEN t.state = 'escalated' THEN 'escalated' ELSE 'step.succeeded' END, 's2', '{"kind":"non_retryable"}'::jsonb),
         (6, 'state.changed', NULL, CASE WHEN t.state = 'escalated' THEN '{"to":"escalated"}'::jsonb ELSE '{"to":"completed"}'::jsonb END)
       ) AS e(seq, type, step, data)`,
  );
  await db.query('ANALYZE tasks');
  await db.query('ANALYZE events');
  process.stderr.write(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
}

async function time(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

async function main(): Promise<void> {
  const url = await freshPostgres('runwarden_bench_report');
  if (!url) {
    process.stderr.write('bench:report needs PostgreSQL (RUNWARDEN_TEST_PG); it does not answer\n');
    process.exitCode = 1;
    return;
  }
  const db = await openDb(url);
  try {
    process.stderr.write(`seeding ${TASKS.toLocaleString('en')} tasks on PostgreSQL\n`);
    await seed(db);
    const day = new Date(NOW - 86_400_000);
    // All time reads every event whatever the index: timed once each way.
    const windows: Array<[string, () => Promise<unknown>, number]> = [
      ['last day', () => buildReport(db, { now: new Date(NOW), since: day }), RUNS],
      ['last day, one runbook', () => buildReport(db, { now: new Date(NOW), since: day, runbook: 'rb-1' }), RUNS],
      ['all time', () => buildReport(db, { now: new Date(NOW) }), 1],
    ];
    const check = (await buildReport(db, { now: new Date(NOW), since: day })) as { totals: { tasks: number } };
    process.stderr.write(`  the last day holds ${check.totals.tasks.toLocaleString('en')} tasks\n`);
    const rows: string[] = [];
    for (const [label, run, runs] of windows) {
      await db.query('DROP INDEX IF EXISTS tasks_created_idx');
      const without = await time(run, runs);
      await db.query('CREATE INDEX tasks_created_idx ON tasks (created_at, id)');
      await db.query('ANALYZE tasks');
      const withIdx = await time(run, runs);
      process.stderr.write(`  ${label}: ${without.toFixed(0)} ms without, ${withIdx.toFixed(0)} ms with\n`);
      rows.push(`| ${label} | ${without.toFixed(0)} ms | ${withIdx.toFixed(0)} ms | ${(without / withIdx).toFixed(1)}x |`);
    }
    process.stdout.write(
      [`report on ${TASKS.toLocaleString('en')} tasks (PostgreSQL, median of ${RUNS})`, '', '| window | without tasks_created_idx | with it | ratio |', '| --- | --- | --- | --- |', ...rows, ''].join('\n'),
    );
  } finally {
    await db.close();
    await dropPostgres(url);
  }
}

await main();

/**
 * What concurrency keys (`policy.concurrency`) cost the claim: claiming N queued tasks one at a
 * time without a key, against the same with a key each (the keyed path: candidates, a transaction
 * with the per-key advisory lock, the count of the key's running tasks, the claim), and a look
 * for work when every queued task waits behind a running one of its key, against a look that
 * finds nothing at all. On the embedded database and on PostgreSQL when it is reachable.
 *
 *   npm run bench:keys            # 300 tasks
 *   npm run bench:keys -- 1000
 *
 * Figures are ratios against the baseline run in the same process; not pass/fail thresholds.
 */
import pg from 'pg';
import { submitTask } from '../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import { claimTasks } from '../src/store/claim.js';
import { openDb, type Db } from '../src/store/db.js';

const N = Number(process.argv[2] ?? 300);
const LOOKS = 500;
const PG_URL = process.env.RUNWARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const RUNBOOK = (id: string, policy: string) => `
runbook: ${id}
version: 1
title: Keys bench
owner: bench
taskClasses: [bench.${id}]
input: { type: object, required: [k], properties: { k: { type: string } } }
${policy}
steps:
  - { id: one, action: set, with: { v: "1" } }
`;

const set = (() => {
  const plain = compileRunbookText(RUNBOOK('plain', ''), 'plain.yaml');
  const keyed = compileRunbookText(RUNBOOK('keyed', 'policy: { concurrency: { key: "input.k", limit: 1 } }'), 'keyed.yaml');
  if (!plain.runbook || !keyed.runbook) throw new Error([...plain.problems, ...keyed.problems].map((p) => p.message).join('; '));
  return buildRunbookSet([plain.runbook, keyed.runbook]);
})();

async function submitMany(db: Db, cls: string, key: (i: number) => string, n: number, now: Date): Promise<void> {
  for (let i = 0; i < n; i++) await submitTask(db, set, { taskClass: `bench.${cls}`, input: { k: key(i) } }, { now, env: {}, secrets: {} });
}

/** Claims one task at a time until `n` are claimed; the time of the claims only. */
async function claimAll(db: Db, n: number, now: Date, worker: string): Promise<number> {
  let got = 0;
  const t0 = performance.now();
  while (got < n) {
    const c = await claimTasks(db, { workerId: worker, now, leaseMs: 3_600_000, limit: 1 });
    if (!c.length) throw new Error(`${worker}: nothing to claim after ${got}`);
    got += c.length;
  }
  return performance.now() - t0;
}

async function looks(db: Db, now: Date): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < LOOKS; i++) {
    const c = await claimTasks(db, { workerId: 'looker', now, leaseMs: 3_600_000, limit: 4 });
    if (c.length) throw new Error('a look claimed a task it should have left waiting');
  }
  return performance.now() - t0;
}

async function measure(db: Db, label: string): Promise<void> {
  const now = new Date('2030-01-01T00:00:00Z');
  // Warm up both paths (prepared statements, caches) before timing.
  await submitMany(db, 'plain', (i) => `w${i}`, 5, now);
  await submitMany(db, 'keyed', (i) => `w${i}`, 5, now);
  await claimAll(db, 10, now, 'warm');

  const emptyLook = await looks(db, now);
  await submitMany(db, 'plain', (i) => `p${i}`, N, now);
  const plainMs = await claimAll(db, N, now, 'plain');
  await submitMany(db, 'keyed', (i) => `k${i}`, N, now);
  const keyedMs = await claimAll(db, N, now, 'keyed');
  // Every key now has its one slot taken: N more tasks on those keys wait behind them.
  await submitMany(db, 'keyed', (i) => `k${i}`, N, now);
  const blockedLook = await looks(db, now);

  const per = (ms: number, n: number) => `${(ms / n).toFixed(2)} ms`;
  process.stdout.write(
    `${label}: a claim with a key ${per(keyedMs, N)} vs without ${per(plainMs, N)} (x${(keyedMs / plainMs).toFixed(2)}); ` +
      `a look with ${N} tasks waiting behind their keys ${per(blockedLook, LOOKS)} vs an empty look ${per(emptyLook, LOOKS)} (x${(blockedLook / emptyLook).toFixed(2)})\n`,
  );
}

async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

const lite = await openDb('memory://');
await measure(lite, 'embedded (PGlite)');
await lite.close();
if (await pgReachable()) {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const name = `rw_bench_keys_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  try {
    const db = await openDb(u.toString());
    await measure(db, 'PostgreSQL');
    await db.close();
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

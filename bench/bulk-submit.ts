/**
 * What bulk intake buys: N task requests submitted one at a time (`submitTask`, one
 * transaction each, as `runwarden submit` or `POST /v1/tasks` does) against the same number through
 * `submitLines` (`runwarden submit --jsonl`, one transaction per batch), in the same process, on
 * PostgreSQL (and the embedded database with --embedded). Each run has its own fresh database.
 *
 *   npm run bench:bulk              # 5000 requests, batches of 200
 *   npm run bench:bulk -- 20000 500
 *
 * Figures are requests per second and the ratio bulk/single; not pass/fail thresholds.
 */
import { submitLines } from '../src/intake/bulk.js';
import { submitTask } from '../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import { openDb, type Db } from '../src/store/db.js';
import { dropPostgres, freshPostgres } from './pg.js';

const N = Number(process.argv[2] ?? 5000);
const BATCH = Number(process.argv[3] ?? 200);

const RUNBOOK = `
runbook: bench-restart
version: 1
title: Bulk bench
owner: bench
taskClasses: [bench.restart]
input: { type: object, required: [service], properties: { service: { type: string, pattern: "^[a-z0-9-]+$" }, n: { type: number } } }
policy:
  guards:
    - { name: no-prod-db, deny: "input.service == 'prod-db'", message: the production database is restarted by hand }
steps:
  - { id: restart, action: set, with: { done: "'yes'" } }
`;

function runbooks() {
  const r = compileRunbookText(RUNBOOK, 'bench-restart.yaml');
  if (!r.runbook) throw new Error(`bench runbook does not compile: ${JSON.stringify(r.problems)}`);
  return buildRunbookSet([r.runbook]);
}

const request = (tag: string, i: number) => ({ taskClass: 'bench.restart', externalRef: `${tag}-${i}`, requestedBy: 'bench', input: { service: `svc-${i % 97}`, n: i } });

async function single(db: Db, n: number): Promise<number> {
  const set = runbooks();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await submitTask(db, set, request('single', i), { now: new Date(), env: {}, secrets: {} });
  return n / ((performance.now() - t0) / 1000);
}

async function bulk(db: Db, n: number, batch: number): Promise<number> {
  const set = runbooks();
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify(request('bulk', i)));
  const t0 = performance.now();
  const s = await submitLines(db, set, lines, { now: () => new Date(), env: {}, secrets: {}, batchSize: batch });
  if (s.created !== n) throw new Error(`bulk made ${s.created} of ${n} tasks`);
  return n / ((performance.now() - t0) / 1000);
}

async function onPostgres(): Promise<void> {
  const url = await freshPostgres('rw_bench_bulk');
  if (!url) {
    console.log('PostgreSQL: not reachable, skipped');
    return;
  }
  const db = await openDb(url);
  try {
    // A short warm-up: the first statements prepare and the pool fills.
    await single(db, 50);
    const one = await single(db, Math.min(N, 2000));
    const many = await bulk(db, N, BATCH);
    console.log(`PostgreSQL  single: ${one.toFixed(0)} requests/s   bulk (batch ${BATCH}): ${many.toFixed(0)} requests/s   ratio ${(many / one).toFixed(1)}x`);
  } finally {
    await db.close();
    await dropPostgres(url);
  }
}

await onPostgres();

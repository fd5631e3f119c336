/**
 * What the scheduler costs: a fire (the schedule's lock and row, the fire's claim, intake, the
 * task's and the schedule's ledgers, in one transaction) against a plain intake of the same
 * request, and a tick with nothing due against a worker's look for due work (what every `work`
 * process already does about once a second). On the embedded database and on PostgreSQL when it
 * is reachable.
 *
 *   npm run bench:schedules            # 300 fires, 1000 idle ticks
 *   npm run bench:schedules -- 500 2000
 *
 * Figures are ratios against the baseline run in the same process; not pass/fail thresholds.
 */
import pg from 'pg';
import { deploymentConfig } from '../src/config/index.js';
import { silentLogger } from '../src/log.js';
import { submitTask } from '../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import { Scheduler } from '../src/scheduler/index.js';
import { createMasker } from '../src/secrets/mask.js';
import { claimTasks } from '../src/store/claim.js';
import { openDb, type Db } from '../src/store/db.js';

const FIRES = Number(process.argv[2] ?? 300);
const IDLE = Number(process.argv[3] ?? 1000);
const PG_URL = process.env.RUNWARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const RUNBOOK = (id: string, cron: string) => `
runbook: ${id}
version: 1
title: Scheduled bench
owner: bench
taskClasses: [bench.${id.replace(/-/g, '.')}]
input: { type: object, required: [n], properties: { n: { type: number } } }
schedule: { cron: "${cron}", input: { n: 1 }, overlap: allow }
steps:
  - { id: one, action: set, with: { v: "1" } }
`;

function runbooks(id: string, cron: string) {
  const r = compileRunbookText(RUNBOOK(id, cron), `${id}.yaml`);
  if (!r.runbook) throw new Error(r.problems.map((p) => p.message).join('; '));
  return buildRunbookSet([r.runbook]);
}

/** A clock the bench moves by hand. */
function manualClock(start: number) {
  let t = start;
  return { now: () => new Date(t), sleep: async () => undefined, advance: (ms: number) => (t += ms) };
}

async function measure(db: Db, label: string): Promise<void> {
  const start = Date.parse('2030-01-01T00:00:00Z');
  const emit = { config: deploymentConfig(), masker: createMasker([]) };

  // Baseline: FIRES plain intakes of the request a fire makes.
  const plain = runbooks('bench-plain', '* * * * * *');
  let t0 = performance.now();
  for (let i = 0; i < FIRES; i++) {
    await submitTask(db, plain, { taskClass: 'bench.bench.plain', externalRef: `plain:${label}:${i}`, requestedBy: 'scheduler', input: { n: 1 } }, { now: new Date(start + i * 1000), env: {}, secrets: {} });
  }
  const intakeMs = performance.now() - t0;

  // FIRES fires of a per-second schedule, one per tick.
  const set = runbooks('bench-fire', '* * * * * *');
  const clock = manualClock(start);
  const s = new Scheduler({ db, runbooks: set, env: {}, secrets: {}, emit, logger: silentLogger, clock, watchdog: false });
  await s.tick();
  t0 = performance.now();
  for (let i = 0; i < FIRES; i++) {
    clock.advance(1000);
    const r = await s.tick();
    if (!r.runs['bench-fire']?.length) throw new Error(`tick ${i} made no run`);
  }
  const fireMs = performance.now() - t0;

  // Idle: a yearly schedule ticked IDLE times, against IDLE looks for due work by a worker.
  const idleSet = runbooks('bench-idle', '0 0 1 1 *');
  const idleClock = manualClock(start);
  const idle = new Scheduler({ db, runbooks: idleSet, env: {}, secrets: {}, emit, logger: silentLogger, clock: idleClock, watchdog: false });
  await idle.tick();
  t0 = performance.now();
  for (let i = 0; i < IDLE; i++) {
    idleClock.advance(1000);
    await idle.tick();
  }
  const tickMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < IDLE; i++) await claimTasks(db, { workerId: 'bench', now: new Date(start + 10 * 365 * 86_400_000), leaseMs: 30_000, limit: 4, exclude: [] });
  const lookMs = performance.now() - t0;

  const per = (ms: number, n: number) => `${(ms / n).toFixed(2)} ms`;
  process.stdout.write(
    `${label}: a fire ${per(fireMs, FIRES)} vs a plain intake ${per(intakeMs, FIRES)} (x${(fireMs / intakeMs).toFixed(2)}); ` +
      `an idle tick ${per(tickMs, IDLE)} vs a worker's look for work ${per(lookMs, IDLE)} (x${(tickMs / lookMs).toFixed(2)})\n`,
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
  const name = `rw_bench_sched_${process.pid}`;
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

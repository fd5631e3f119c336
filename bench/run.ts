/**
 * What durability costs, and whether the process stays responsive while it pays it.
 *
 *   npm run bench                # defaults: 200 tasks, concurrency 8
 *   npm run bench -- 500 16      # tasks, concurrency
 *
 * Throughput: 3-step tasks carried through runwarden (claim, a checkpoint before and after every
 * step, the ledger) against the same three actions called directly in this process, on the
 * embedded database (in memory and in a data directory) and on PostgreSQL when it is reachable.
 * CPU is the whole process's (every thread), per step.
 *
 * Responsiveness, on each database: the event-loop delay of the worker's process (p99 and max,
 * `monitorEventLoopDelay`) while 8 tasks run, with HTTP steps (a local server answering in 50ms,
 * step timeout 300ms: every timeout counted is a false one) and with no-I/O plugin steps; and how
 * long a graceful stop (what SIGINT does) takes while the worker drains a long no-I/O queue.
 *
 * Figures are ratios against the baseline run in the same process, plus absolute rates for
 * orientation; they are not pass/fail thresholds.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { z } from 'zod';
import { dropPostgres, freshPostgres } from './pg.js';
import { createExecutor, pluginActions } from '../src/agents/index.js';
import { silentLogger } from '../src/log.js';
import { Worker } from '../src/orchestrator/worker.js';
import { submitTask } from '../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import type { RunbookSet } from '../src/runbook/plan.js';
import { openDb, type Db } from '../src/store/db.js';
import type { ExecuteContext } from '../src/agents/executor.js';

const TASKS = Number(process.argv[2] ?? 200);
const CONCURRENCY = Number(process.argv[3] ?? 8);

// A step that does a little real work and no I/O: what is measured is runwarden's own cost.
const work = (n: number): number => {
  let x = n;
  for (let i = 0; i < 2000; i++) x = (x * 31 + i) % 1_000_003;
  return x;
};
const plugins = pluginActions({
  compute: {
    schema: z.object({ n: z.number() }),
    changes: false,
    run: async (input: { n: number }, _ctx: ExecuteContext) => ({ kind: 'result', result: { value: work(input.n) } }),
  },
});

const RUNBOOK = `
runbook: bench
version: 1
title: Three computed steps
owner: bench
taskClasses: [bench.three]
input: { type: object, required: [n], properties: { n: { type: number } } }
policy: { deadline: 1h, retryBudget: 1 }
steps:
  - { id: one, action: compute, with: { n: "\${input.n}" }, capture: { v: "result.value" } }
  - { id: two, action: compute, with: { n: "\${steps.one.v}" }, capture: { v: "result.value" } }
  - { id: three, action: compute, with: { n: "\${steps.two.v}" }, capture: { v: "result.value" } }
`;

// Three HTTP steps against a server that answers in 50ms; a 300ms timeout that must never fire.
const HTTP_RUNBOOK = `
runbook: bench-http
version: 1
title: Three HTTP steps
owner: bench
taskClasses: [bench.http]
input: { type: object, required: [n], properties: { n: { type: number } } }
systems:
  api: { baseUrl: "\${env.BENCH_URL}" }
policy: { deadline: 1h, retryBudget: 0 }
retry:
  timeout: { attempts: 1 }
steps:
  - { id: one, action: http, with: { system: api, method: GET, path: "/one" }, timeout: 300ms, capture: { v: "result.body.ok" } }
  - { id: two, action: http, with: { system: api, method: GET, path: "/two" }, timeout: 300ms, capture: { v: "result.body.ok" } }
  - { id: three, action: http, with: { system: api, method: GET, path: "/three" }, timeout: 300ms, capture: { v: "result.body.ok" } }
`;

function runbookSet(text: string, file: string): RunbookSet {
  const { runbook, problems } = compileRunbookText(text, file, { plugins });
  if (!runbook) throw new Error(problems.map((p) => p.message).join('; '));
  return buildRunbookSet([runbook]);
}
const computeRunbooks = runbookSet(RUNBOOK, 'bench.yaml');
const httpRunbooks = runbookSet(HTTP_RUNBOOK, 'bench-http.yaml');

async function baseline(): Promise<number> {
  const started = performance.now();
  for (let t = 0; t < TASKS; t++) {
    let v = t;
    for (let s = 0; s < 3; s++) v = (await plugins.get('compute')!.run({ n: v }, {} as never) as { result: { value: number } }).result.value;
  }
  return performance.now() - started;
}

async function submitMany(db: Db, runbooks: RunbookSet, taskClass: string, n: number, env: Record<string, string> = {}): Promise<void> {
  for (let t = 0; t < n; t++) {
    await submitTask(db, runbooks, { taskClass, input: { n: t } }, { now: new Date(), env, secrets: {} });
  }
}

interface Throughput {
  ms: number;
  tasks: number;
  cpuMs: number;
}

async function throughput(db: Db): Promise<Throughput> {
  await submitMany(db, computeRunbooks, 'bench.three', TASKS);
  const worker = new Worker({ db, runbooks: computeRunbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: CONCURRENCY, pollMs: 20 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await worker.runUntilIdle();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const done = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE state = 'completed' AND task_class = 'bench.three'");
  return { ms, tasks: Number(done[0]?.n ?? 0), cpuMs: (used.user + used.system) / 1000 };
}

interface Delay {
  p99: number;
  max: number;
}

/**
 * Event-loop delay while `fn` runs, in ms: `monitorEventLoopDelay`, and the longest gap between
 * two turns of a 1ms interval including the last one, so a loop that never turned still shows
 * (the histogram records nothing then).
 */
async function loopDelay(fn: () => Promise<void>): Promise<Delay> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let gap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 1);
  h.enable();
  try {
    await fn();
  } finally {
    h.disable();
    clearInterval(tick);
    gap = Math.max(gap, performance.now() - last);
  }
  return { p99: h.count > 0 ? h.percentile(99) / 1e6 : gap, max: Math.max(h.max / 1e6, gap) };
}

function slowServer(ms: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }, ms);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })));
}

/** 8 tasks at a time with HTTP steps; returns the delay and how many attempts timed out. */
async function httpResponsiveness(db: Db, url: string): Promise<Delay & { timeouts: number; tasks: number; other: string }> {
  const n = 48;
  await submitMany(db, httpRunbooks, 'bench.http', n, { BENCH_URL: url });
  const worker = new Worker({ db, runbooks: httpRunbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: 8, pollMs: 20, env: { BENCH_URL: url } });
  const delay = await loopDelay(async () => {
    await worker.runUntilIdle();
  });
  const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE failure_class = 'timeout'");
  const [done] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE task_class = 'bench.http' AND state = 'completed'");
  const other = await db.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM tasks WHERE task_class = 'bench.http' AND state <> 'completed' GROUP BY state");
  return { ...delay, timeouts: Number(row?.n ?? 0), tasks: Number(done?.n ?? 0), other: other.map((o) => `${o.n} ${o.state}`).join(', ') };
}

/** 8 tasks at a time with no-I/O steps, then a graceful stop while the queue is still long. */
async function computeResponsiveness(db: Db): Promise<Delay & { stopMs: number; left: number }> {
  await submitMany(db, computeRunbooks, 'bench.three', 400);
  const worker = new Worker({ db, runbooks: computeRunbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: 8, pollMs: 20 });
  let stopMs = 0;
  const delay = await loopDelay(async () => {
    const running = worker.run();
    // Let it drain for a while, then stop it the way SIGINT does. Timed from when the stop was
    // due, not from when the timer got its turn: a starved loop runs the timer late.
    const due = performance.now() + 1000;
    await new Promise((r) => setTimeout(r, 1000));
    await worker.stop();
    await running;
    stopMs = performance.now() - due;
  });
  const [left] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE task_class = 'bench.three' AND state <> 'completed'");
  return { ...delay, stopMs, left: Number(left?.n ?? 0) };
}

const fmt = (d: Delay): string => `event-loop delay p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(0)} ms`;

const base = await baseline();
console.log(`runwarden bench: ${TASKS} three-step tasks, concurrency ${CONCURRENCY}`);
console.log(`  baseline (the same actions called directly): ${base.toFixed(1)} ms in all, ${(base / (TASKS * 3)).toFixed(3)} ms per step`);
const scratch = await mkdtemp(join(tmpdir(), 'rw-bench-'));
const targets: [string, () => Promise<string>][] = [
  ['pglite (memory)', async () => 'memory://'],
  ['pglite (dir)', async () => join(await mkdtemp(join(scratch, 'db-')), 'db')],
];
const pgUrl = await freshPostgres(`rw_bench_${process.pid}`);
if (pgUrl) targets.push(['postgresql', async () => pgUrl]);
const { url, server } = await slowServer(50);
try {
  for (const [name, target] of targets) {
    const db = await openDb(await target());
    try {
      const r = await throughput(db);
      const steps = r.tasks * 3;
      const perStep = (r.ms - base) / (TASKS * 3);
      console.log(
        `  ${name.padEnd(16)} ${r.tasks}/${TASKS} completed in ${r.ms.toFixed(0)} ms: ${((r.tasks / r.ms) * 1000).toFixed(1)} tasks/s, ` +
          `${((steps / r.ms) * 1000).toFixed(0)} steps/s, ${(r.ms / base).toFixed(1)}x the baseline, ${perStep.toFixed(2)} ms overhead and ` +
          `${(r.cpuMs / Math.max(1, steps)).toFixed(2)} ms CPU per step`,
      );
      const h = await httpResponsiveness(db, url);
      console.log(`  ${''.padEnd(16)} 8 HTTP tasks at a time: ${fmt(h)}; ${h.tasks}/48 completed${h.other ? ` (${h.other})` : ''}, ${h.timeouts} false timeout(s) (300ms timeout, 50ms answers)`);
      const c = await computeResponsiveness(db);
      console.log(`  ${''.padEnd(16)} 8 no-I/O tasks at a time: ${fmt(c)}; graceful stop took ${c.stopMs.toFixed(0)} ms with ${c.left} task(s) left in the queue`);
    } finally {
      await db.close();
    }
  }
} finally {
  server.close();
  if (pgUrl) await dropPostgres(pgUrl);
  await rm(scratch, { recursive: true, force: true });
}
if (!pgUrl) console.log('  postgresql       not reachable; skipped');

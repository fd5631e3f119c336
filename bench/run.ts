/**
 * What durability costs: 3-step tasks carried through runwarden (claim, a checkpoint before and
 * after every step, the ledger) against the same three actions called directly in this process,
 * on the embedded database and on PostgreSQL when it is reachable.
 *
 *   npm run bench                # defaults: 200 tasks, concurrency 8
 *   npm run bench -- 500 16      # tasks, concurrency
 *
 * Figures are ratios against the baseline run in the same process, plus absolute rates for
 * orientation; they are not pass/fail thresholds.
 */
import { z } from 'zod';
import { dropPostgres, freshPostgres } from './pg.js';
import { createExecutor, pluginActions } from '../src/agents/index.js';
import { silentLogger } from '../src/log.js';
import { Worker } from '../src/orchestrator/worker.js';
import { submitTask } from '../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import { openDb } from '../src/store/db.js';
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

async function baseline(): Promise<number> {
  const started = performance.now();
  for (let t = 0; t < TASKS; t++) {
    let v = t;
    for (let s = 0; s < 3; s++) v = (await plugins.get('compute')!.run({ n: v }, {} as never) as { result: { value: number } }).result.value;
  }
  return performance.now() - started;
}

async function viaRunwarden(target: string): Promise<{ ms: number; tasks: number }> {
  const { runbook, problems } = compileRunbookText(RUNBOOK, 'bench.yaml', { plugins });
  if (!runbook) throw new Error(problems.map((p) => p.message).join('; '));
  const runbooks = buildRunbookSet([runbook]);
  const db = await openDb(target);
  try {
    for (let t = 0; t < TASKS; t++) {
      await submitTask(db, runbooks, { taskClass: 'bench.three', input: { n: t } }, { now: new Date(), env: {}, secrets: {} });
    }
    const worker = new Worker({ db, runbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: CONCURRENCY, pollMs: 20 });
    const started = performance.now();
    await worker.runUntilIdle();
    const ms = performance.now() - started;
    const done = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE state = 'completed'");
    return { ms, tasks: Number(done[0]?.n ?? 0) };
  } finally {
    await db.close();
  }
}


const base = await baseline();
console.log(`runwarden bench: ${TASKS} three-step tasks, concurrency ${CONCURRENCY}`);
console.log(`  baseline (the same actions called directly): ${base.toFixed(1)} ms in all, ${(base / (TASKS * 3)).toFixed(3)} ms per step`);
const targets: [string, string][] = [['pglite (memory)', 'memory://']];
const pgUrl = await freshPostgres(`rw_bench_${process.pid}`);
if (pgUrl) targets.push(['postgresql', pgUrl]);
for (const [name, target] of targets) {
  const r = await viaRunwarden(target);
  const perStep = (r.ms - base) / (TASKS * 3);
  console.log(
    `  ${name.padEnd(16)} ${r.tasks}/${TASKS} completed in ${r.ms.toFixed(0)} ms: ${((r.tasks / r.ms) * 1000).toFixed(1)} tasks/s, ` +
      `${(r.ms / base).toFixed(1)}x the baseline, ${perStep.toFixed(2)} ms overhead per step`,
  );
}
if (pgUrl) await dropPostgres(pgUrl);
else console.log('  postgresql       not reachable; skipped');

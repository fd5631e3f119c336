/**
 * Availability under faults: orders of runbooks/order-onboarding.yaml carried through a real
 * worker against the simulated API with faults scripted at random (a seeded draw per order): the
 * charge's response lost after the charge was made (so its probe must run), a 503 on the probe's
 * read, a 503 on one of the keyed calls. Prints how the orders ended, and the share that ended
 * `ambiguous_state`: a probe that one passing 503 turns into a hand-over costs a person's time for
 * nothing.
 *
 *   node --import tsx bench/probe-faults.ts            # 90 orders, 6 lanes, seed 11
 *   node --import tsx bench/probe-faults.ts 180 6 3    # orders, lanes, seed
 *
 * Each lane has its own simulated API and embedded database, so a fault scripted for an order
 * meets that order's requests and no other's; the lanes run at once to keep the wall time short.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createExecutor } from '../src/agents/index.js';
import { silentLogger } from '../src/log.js';
import { submitTask } from '../src/orchestrator/intake.js';
import { Worker } from '../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../src/runbook/load.js';
import { startSim } from '../src/sim/index.js';
import { openDb } from '../src/store/db.js';
import { getTask } from '../src/store/tasks.js';

const ORDERS = Number(process.argv[2] ?? 90);
const LANES = Number(process.argv[3] ?? 6);
const SEED = Number(process.argv[4] ?? 11);

/** mulberry32: the same draw of faults for the same seed, before and after a change. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const text = readFileSync(fileURLToPath(new URL('../runbooks/order-onboarding.yaml', import.meta.url)), 'utf8');
const { runbook, problems } = compileRunbookText(text, 'runbooks/order-onboarding.yaml');
if (!runbook) throw new Error(problems.map((p) => p.message).join('\n'));
const runbooks = buildRunbookSet([runbook]);

interface Draw {
  lostCharge: boolean;
  probe503: boolean;
  other503: string | null;
}

const KEYED = ['/crm/accounts', '/billing/invoices', '/provisioning/tenants'];
const rng = seeded(SEED);
const draws: Draw[] = Array.from({ length: ORDERS }, () => ({
  lostCharge: rng() < 0.4,
  probe503: rng() < 0.6,
  other503: rng() < 0.3 ? KEYED[Math.floor(rng() * KEYED.length)]! : null,
}));

async function lane(index: number, orders: number[]): Promise<Map<string, number>> {
  const sim = await startSim({ token: 'bench-token' });
  const db = await openDb('memory://');
  const ended = new Map<string, number>();
  try {
    for (const n of orders) {
      sim.reset();
      const draw = draws[n]!;
      if (draw.lostCharge) sim.fault({ method: 'POST', path: '/billing/charges', dropAfterEffect: true });
      if (draw.probe503) sim.fault({ method: 'GET', path: '/billing/charges', status: 503 });
      if (draw.other503) sim.fault({ method: 'POST', path: draw.other503, status: 503 });
      const { task } = await submitTask(
        db,
        runbooks,
        { taskClass: 'order.onboard', input: { order: `ord_b${index}x${n}`, customer: `cus_b${n}`, plan: 'pro', amount: 120, email: `o${n}@example.com` } },
        { now: new Date(), env: { OPS_API_URL: sim.url }, secrets: { OPS_API_TOKEN: 'bench-token' } },
      );
      const worker = new Worker({ db, runbooks, executor: createExecutor(), logger: silentLogger, env: { OPS_API_URL: sim.url }, secrets: { OPS_API_TOKEN: 'bench-token' }, pollMs: 20 });
      await worker.runUntilIdle();
      const t = (await getTask(db, task.id))!;
      const key = t.state === 'escalated' ? `escalated ${t.escalation?.kind}` : t.state;
      ended.set(key, (ended.get(key) ?? 0) + 1);
    }
  } finally {
    await db.close();
    await sim.close();
  }
  return ended;
}

const started = performance.now();
const lanes = Array.from({ length: LANES }, (_, i) => Array.from({ length: ORDERS }, (_, n) => n).filter((n) => n % LANES === i));
const results = await Promise.all(lanes.map((orders, i) => lane(i, orders)));
const total = new Map<string, number>();
for (const r of results) for (const [k, v] of r) total.set(k, (total.get(k) ?? 0) + v);
const ambiguous = total.get('escalated ambiguous_state') ?? 0;
const faulted = draws.filter((d) => d.lostCharge && d.probe503).length;
process.stdout.write(
  [
    `orders: ${ORDERS} (seed ${SEED}); charge response lost: ${draws.filter((d) => d.lostCharge).length}; of those, probe met a 503: ${faulted}`,
    ...[...total].sort().map(([k, v]) => `  ${k}: ${v}`),
    `ambiguous_state: ${ambiguous} of ${ORDERS} (${((100 * ambiguous) / ORDERS).toFixed(1)}%)`,
    `wall time: ${((performance.now() - started) / 1000).toFixed(1)}s`,
  ].join('\n') + '\n',
);

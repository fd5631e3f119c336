/**
 * The chaos run: several `runwarden work` processes on a PostgreSQL server of the run's own (a
 * throwaway cluster, so it can be restarted without touching the server other tests use), the
 * simulated operations API with random faults (errors, delays, answers dropped after the
 * effect), and tasks of the example runbooks, while the harness SIGKILLs a random worker every
 * few hundred milliseconds (starting a replacement) and restarts PostgreSQL. When every task has
 * come to rest, checks.ts judges the outcome from the database and from the API's own record.
 *
 * Used by chaos.test.ts (a short run inside `npm test`) and full.chaos.ts (`npm run test:chaos`).
 * Times below are the chaos schedule, not waits for a state: every wait for a state polls it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deploymentConfig } from '../../src/config/index.js';
import { deliverDue } from '../../src/escalation/outbox-delivery.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { loadRunbooksOrThrow } from '../../src/runtime.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { openDb, type Db } from '../../src/store/db.js';
import { isDatabaseUnavailable } from '../../src/store/outage.js';
import { BIN } from '../helpers/cli.js';
import { startThrowawayPg, type ThrowawayPg } from '../helpers/throwaway-pg.js';
import { checkRun, type Submitted } from './checks.js';

export const EXAMPLE_RUNBOOKS = fileURLToPath(new URL('../../runbooks', import.meta.url));

export interface ChaosOptions {
  /** Tasks submitted (a mix of the three example runbooks). */
  tasks: number;
  /** Worker processes alive at any time. */
  workers: number;
  /** Tasks each worker drives at once. */
  concurrency: number;
  /** The workers' lease, e.g. `2s`: how soon a killed worker's tasks are taken over. */
  lease: string;
  /** A random worker is SIGKILLed after a pause drawn from this range (ms). */
  killEveryMs: [number, number];
  /** PostgreSQL restarts (stop, a pause, start) spread over the run. */
  pgRestarts: number;
  /** How long PostgreSQL stays down at each restart (ms). */
  pgDownMs: [number, number];
  /** Share of API requests that meet a fault. */
  faultRate: number;
  /** Workers are killed for this long at most (ms); then the killing stops and the run drains. */
  timeoutMs: number;
  /**
   * After the killing stops, the tasks still moving get this long (ms) to come to rest with the
   * workers left alone; a task not at rest by then is stuck. Default 60 s. The killing is bounded
   * so that a slow machine (where a replacement worker takes longer to start than the pause
   * before the next kill) tests liveness after chaos instead of how fast processes start.
   */
  drainMs?: number;
  seed?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  tasks: number;
  kills: number;
  pgRestarts: number;
  /** Worker processes started in all (the first ones and every replacement). */
  workersStarted: number;
  /** Workers that exited without being killed or asked to stop (each a violation too). */
  workerExits: string[];
  byState: Record<string, number>;
  /** Escalations by reason. */
  byReason: Record<string, number>;
  /** Share of tasks that ended escalated as `ambiguous_state`. */
  ambiguousShare: number;
  faults: Record<string, number>;
  violations: string[];
  durationMs: number;
}

/** A small seeded generator (mulberry32), so a failing run can be repeated with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKEN = 'chaos-ops-token-5d1e8b2f';
const REST = new Set(['completed', 'partially_completed', 'rolled_back', 'escalated', 'awaiting_approval', 'rejected', 'cancelled', 'failed', 'in_handover']);

interface WorkerProc {
  id: string;
  child: ChildProcess;
  /** The harness sent it a signal: its exit is ours. */
  signalled: boolean;
  tail: string[];
}

/** Runs one chaos run and returns its report (violations included); cleans up after itself. */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const between = ([lo, hi]: [number, number]) => lo + Math.floor(random() * (hi - lo + 1));
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'rw-chaos-'));
  let server: ThrowawayPg | undefined;
  let sim: Sim | undefined;
  let db: Db | undefined;
  const workers = new Map<string, WorkerProc>();
  const workerExits: string[] = [];
  let kills = 0;
  let restarts = 0;
  let workersStarted = 0;
  let stopping = false;
  const faults: Record<string, number> = {};
  try {
    server = await startThrowawayPg();
    const url = await server.createDatabase('rw_chaos');
    sim = await startSim({ token: TOKEN });
    const packetsFile = join(dir, 'packets.jsonl');
    const configPath = join(dir, 'runwarden.yaml');
    await writeFile(configPath, `env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\nsinks:\n  archive: { type: file, path: ${packetsFile} }\nroutes:\n  default: [archive]\n`);
    db = await openDb(url);
    const runbooks = await loadRunbooksOrThrow(EXAMPLE_RUNBOOKS);
    const env = { OPS_API_URL: sim.url };
    const secrets = { OPS_API_TOKEN: TOKEN };

    // The tasks: restarts of degraded services, orders, entitlement upgrades (no approval needed).
    const submitted: Submitted[] = [];
    for (let i = 0; i < o.tasks; i++) {
      const kind = i % 3;
      const tag = `c${i}`;
      let request: { taskClass: string; input: Record<string, unknown> };
      if (kind === 0) {
        sim.setService(`svc-${tag}`, { status: 'degraded' });
        request = { taskClass: 'service.restart', input: { service: `svc-${tag}`, environment: 'staging' } };
      } else if (kind === 1) {
        request = { taskClass: 'order.onboard', input: { order: `ord_${tag}`, customer: `cus_${tag}`, plan: 'pro', amount: 10 + (i % 50), email: `${tag}@example.org` } };
      } else {
        sim.setEntitlement(`cus_${tag}`, { plan: 'free', features: ['basic'] });
        request = { taskClass: 'entitlement.fix', input: { customer: `cus_${tag}`, plan: 'pro', features: ['basic', 'sso'] } };
      }
      const { task } = await submitTask(db, runbooks, { ...request, externalRef: `CHAOS-${tag}`, requestedBy: 'chaos' }, { now: new Date(), env, secrets });
      submitted.push({ id: task.id, tag, taskClass: request.taskClass, input: request.input });
    }
    log(`chaos: seed ${seed}, ${submitted.length} tasks submitted`);

    // Random faults, armed for the request that is arriving (the sim emits `request` before it
    // handles it, so the fault applies to that very request and no other).
    const refused = new Set<string>();
    sim.events.on('request', (r) => {
      const key = r.headers['idempotency-key'];
      // Some provisioning refused for good, so some orders roll back. Never on a replay: an API
      // that deduplicates by key answers a replay with its first answer, not a refusal.
      if (r.method === 'POST' && r.path === '/provisioning/tenants' && typeof key === 'string' && !refused.has(key)) {
        refused.add(key);
        if (random() < 0.15) {
          sim!.fault({ method: 'POST', path: r.path, status: 409, body: { error: 'capacity refused' } });
          faults['provisioning refused'] = (faults['provisioning refused'] ?? 0) + 1;
          return;
        }
      }
      const x = random();
      if (x >= o.faultRate) return;
      const share = x / o.faultRate;
      let kind: string;
      if (share < 0.45) {
        kind = 'status 503';
        sim!.fault({ method: r.method, path: r.path, status: 503 });
      } else if (share < 0.7) {
        kind = 'delay';
        sim!.fault({ method: r.method, path: r.path, delayMs: 100 + Math.floor(random() * 900) });
      } else {
        // On a change, the effect happens and its answer is lost; on a read, the read is lost.
        kind = r.method === 'GET' ? 'read dropped' : 'dropped after effect';
        sim!.fault({ method: r.method, path: r.path, dropAfterEffect: true });
      }
      faults[kind] = (faults[kind] ?? 0) + 1;
    });

    const spawnWorker = (): void => {
      workersStarted += 1;
      const id = `w-${workersStarted}`;
      const child = spawn(process.execPath, [BIN, 'work', '--db', url, '--runbooks', EXAMPLE_RUNBOOKS, '--config', configPath, '--lease', o.lease, '--concurrency', String(o.concurrency), '--worker-id', id], {
        env: { ...process.env, OPS_API_URL: sim!.url, OPS_TOKEN: TOKEN, RUNWARDEN_LOG_LEVEL: 'warn', RUNWARDEN_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const w: WorkerProc = { id, child, signalled: false, tail: [] };
      child.stderr!.on('data', (d: Buffer) => {
        w.tail.push(...d.toString().split('\n').filter(Boolean));
        if (w.tail.length > 40) w.tail.splice(0, w.tail.length - 40);
      });
      child.once('exit', (code, signal) => {
        workers.delete(id);
        if (!w.signalled) workerExits.push(`${id} exited on its own (${code ?? signal}):\n  ${w.tail.slice(-8).join('\n  ')}`);
        // Asked to stop, it must exit 0; ended by the signal itself only when it came before the
        // process had set up its handlers (a replacement still starting).
        else if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') workerExits.push(`${id} stopped with ${code ?? signal} after SIGTERM:\n  ${w.tail.slice(-8).join('\n  ')}`);
        // Keep the pool full: a killed (or crashed) worker is replaced at once.
        if (!stopping) spawnWorker();
      });
      workers.set(id, w);
    };
    for (let i = 0; i < o.workers; i++) spawnWorker();

    // The killer: a random worker every few hundred milliseconds.
    let killing = true;
    const killer = (async () => {
      while (!stopping && killing) {
        await new Promise((r) => setTimeout(r, between(o.killEveryMs)));
        if (stopping || !killing) break;
        const live = [...workers.values()].filter((w) => !w.signalled);
        const victim = live[Math.floor(random() * live.length)];
        if (!victim) continue;
        victim.signalled = true;
        victim.child.kill('SIGKILL');
        kills += 1;
      }
    })();

    // Progress, and PostgreSQL restarts spread over it.
    let deadline = started + o.timeoutMs;
    let atRest = 0;
    for (;;) {
      const counts = await countStates(db).catch((err: unknown) => {
        if (isDatabaseUnavailable(err)) return null;
        throw err;
      });
      if (counts) {
        atRest = Object.entries(counts).reduce((n, [s, c]) => n + (REST.has(s) ? c : 0), 0);
        log(`chaos: ${atRest}/${submitted.length} at rest, ${kills} kills, ${restarts} restarts, ${workers.size} workers (${Math.round((Date.now() - started) / 1000)}s)`);
      }
      const due = restarts < o.pgRestarts && atRest >= ((restarts + 1) / (o.pgRestarts + 1)) * submitted.length * 0.9;
      if (due || (atRest === submitted.length && restarts < o.pgRestarts)) {
        const down = between(o.pgDownMs);
        log(`chaos: restarting PostgreSQL (${down} ms down)`);
        await server.restart({ downMs: down });
        restarts += 1;
        continue;
      }
      if (atRest === submitted.length) break;
      if (Date.now() > deadline) {
        if (!killing) break;
        killing = false;
        deadline = Date.now() + (o.drainMs ?? 60_000);
        log(`chaos: killing stopped after ${kills} kills; ${submitted.length - atRest} tasks still moving get ${Math.round((o.drainMs ?? 60_000) / 1000)} s to come to rest`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    stopping = true;
    await killer;
    // Stop the workers the way an operator would; each must exit 0.
    const exits = [...workers.values()].map(
      (w) =>
        new Promise<void>((resolve) => {
          w.signalled = true;
          if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
          w.child.once('exit', () => resolve());
          w.child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);

    // Deliver what killed deliverers left claimed (their claims lapse after a send's time limit).
    const config = deploymentConfig({ sinks: { archive: { name: 'archive', type: 'file', path: packetsFile } }, routes: { default: ['archive'] } });
    await deliverDue({ db, config, masker: createMasker([]), now: new Date(Date.now() + 3_600_000), limit: 10_000 });

    const outcome = await checkRun({ db, sim, submitted, packetsFile, timedOut: atRest < submitted.length });
    const violations = [...outcome.violations, ...workerExits];
    const total = submitted.length;
    return {
      seed,
      tasks: total,
      kills,
      pgRestarts: restarts,
      workersStarted,
      workerExits,
      byState: outcome.byState,
      byReason: outcome.byReason,
      ambiguousShare: total ? (outcome.byReason.ambiguous_state ?? 0) / total : 0,
      faults,
      violations,
      durationMs: Date.now() - started,
    };
  } finally {
    stopping = true;
    for (const w of workers.values()) {
      w.signalled = true;
      w.child.kill('SIGKILL');
    }
    await db?.close().catch(() => undefined);
    await sim?.close();
    await server?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

async function countStates(db: Db): Promise<Record<string, number>> {
  const rows = await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM tasks GROUP BY state');
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** The report as the lines the suites print. */
export function formatReport(r: ChaosReport): string {
  const states = Object.entries(r.byState)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const reasons = Object.entries(r.byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  const faults = Object.entries(r.faults)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return [
    `chaos run (seed ${r.seed}): ${r.tasks} tasks, ${r.kills} workers killed (${r.workersStarted} started), ${r.pgRestarts} PostgreSQL restarts, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  outcomes: ${states}`,
    `  escalations: ${reasons || 'none'}; ambiguous_state ${(r.ambiguousShare * 100).toFixed(1)}% of tasks`,
    `  faults injected: ${faults || 'none'}`,
    `  worker exits on their own: ${r.workerExits.length}`,
    `  violations: ${r.violations.length}${r.violations.length ? `\n    ${r.violations.slice(0, 30).join('\n    ')}` : ''}`,
  ].join('\n');
}

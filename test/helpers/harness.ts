/**
 * An orchestrator harness over a real database and the simulated operations API: submit tasks
 * from the fixture runbooks, run a worker until idle, read back tasks, attempts and the ledger.
 */
import { fileURLToPath } from 'node:url';
import { createExecutor } from '../../src/agents/index.js';
import { systemClock, type Clock } from '../../src/orchestrator/clock.js';
import { Worker, type WorkerOptions } from '../../src/orchestrator/worker.js';
import { silentLogger } from '../../src/log.js';
import { loadRunbookSet } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import type { Db } from '../../src/store/db.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { getTask, listAttempts, listEvents, type TaskRow } from '../../src/store/tasks.js';
import type { Sim } from '../../src/sim/index.js';
import { createMasker, type Masker } from '../../src/secrets/mask.js';

export const FIXTURE_RUNBOOKS = fileURLToPath(new URL('../fixtures/runbooks', import.meta.url));
export const OPS_TOKEN = 'ops-token-3f9a1c7e5b';

let cached: RunbookSet | undefined;
export async function fixtureRunbooks(): Promise<RunbookSet> {
  if (cached) return cached;
  const { set, problems } = await loadRunbookSet(FIXTURE_RUNBOOKS);
  if (problems.length) throw new Error(`fixture runbooks do not validate:\n${problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n')}`);
  cached = set;
  return set;
}

/** A clock that runs with real time plus an offset tests can push forward. */
export function shiftedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    sleep: systemClock.sleep,
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** A worker as the tests run one: the built-in actions, quiet, short polls and lease; `opts` override. */
export function testWorker(o: Pick<WorkerOptions, 'db' | 'runbooks' | 'clock' | 'env' | 'secrets'> & { masker: Masker }, opts: Partial<WorkerOptions> = {}): Worker {
  return new Worker({
    db: o.db,
    runbooks: o.runbooks,
    executor: createExecutor(),
    logger: silentLogger,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.secrets ? { secrets: o.secrets } : {}),
    mask: (v) => o.masker.maskValue(v),
    pollMs: 50,
    leaseMs: 5000,
    ...opts,
  });
}

export interface Harness {
  runbooks: RunbookSet;
  env: Record<string, string>;
  secrets: Record<string, string>;
  submit(taskClass: string, input: Record<string, unknown>, extra?: Record<string, unknown>): Promise<TaskRow>;
  work(opts?: Partial<WorkerOptions>): Promise<void>;
  task(id: string): Promise<TaskRow>;
  events(id: string): Promise<Awaited<ReturnType<typeof listEvents>>>;
  attempts(id: string): Promise<Awaited<ReturnType<typeof listAttempts>>>;
}

export async function harness(db: Db, sim: Sim | { url: string }, clock: Clock = systemClock): Promise<Harness> {
  const runbooks = await fixtureRunbooks();
  const env = { OPS_API_URL: sim.url };
  const secrets = { OPS_API_TOKEN: OPS_TOKEN };
  const masker = createMasker(Object.values(secrets));
  return {
    runbooks,
    env,
    secrets,
    async submit(taskClass, input, extra = {}) {
      const { task } = await submitTask(db, runbooks, { taskClass, input, requestedBy: 'test', ...extra }, { now: clock.now(), env, secrets });
      return task;
    },
    async work(opts = {}) {
      await testWorker({ db, runbooks, clock, env, secrets, masker }, opts).runUntilIdle();
    },
    async task(id) {
      const t = await getTask(db, id);
      if (!t) throw new Error(`no task ${id}`);
      return t;
    },
    events: (id) => listEvents(db, id),
    attempts: (id) => listAttempts(db, id),
  };
}

/**
 * Roles as routes of work, and concurrency keys, against a real database (both backends):
 * - a verification-only worker runs the checks of a task whose steps an execution-only worker
 *   ran, and neither takes the other's work; the ledger names the role of every attempt;
 * - every request the simulated API sees carries the task's run id;
 * - tasks with one concurrency key never overlap, across two workers, while tasks with another
 *   key run alongside.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createExecutor } from '../../src/agents/index.js';
import { TASK_HEADER } from '../../src/agents/run-id.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { claimTasks } from '../../src/store/claim.js';
import { readTaskView } from '../../src/store/task-view.js';
import { formatTask } from '../../src/cli/task-format.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getTask, listAttempts, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN } from '../helpers/harness.js';
import type { WorkRole } from '../../src/lifecycle/vocabulary.js';

let sim: Sim;
let runbooks: RunbookSet;

beforeAll(async () => {
  sim = await startSim({ token: OPS_TOKEN });
  const text = await readFile(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), 'utf8');
  // The restart runbook, and the same with a concurrency key per service (limit 1).
  const keyed = text
    .replace('runbook: t-restart', 'runbook: t-restart-keyed')
    .replace('taskClasses: [t.restart]', 'taskClasses: [t.restart-keyed]')
    .replace('policy:\n', 'policy:\n  concurrency: { key: "input.service", limit: 1 }\n');
  const plain = compileRunbookText(text, 't-restart.yaml');
  const withKey = compileRunbookText(keyed, 't-restart-keyed.yaml');
  if (!plain.runbook || !withKey.runbook) throw new Error(JSON.stringify([...plain.problems, ...withKey.problems]));
  runbooks = buildRunbookSet([plain.runbook, withKey.runbook]);
});
afterAll(async () => {
  await sim?.close();
});

const env = () => ({ OPS_API_URL: sim.url });
const secrets = { OPS_API_TOKEN: OPS_TOKEN };
const masker = createMasker([OPS_TOKEN]);

function worker(db: Db, workerId: string, roles?: WorkRole[]): Worker {
  return new Worker({
    db,
    runbooks,
    executor: createExecutor(),
    logger: silentLogger,
    env: env(),
    secrets,
    mask: (v) => masker.maskValue(v),
    workerId,
    pollMs: 20,
    leaseMs: 5000,
    concurrency: 4,
    ...(roles ? { roles } : {}),
  });
}

async function submit(db: Db, taskClass: string, service: string) {
  const { task } = await submitTask(db, runbooks, { taskClass, input: { service }, requestedBy: 'test' }, { now: new Date(), env: env(), secrets });
  return task;
}

describeBackends('roles as routes of work', (b) => {
  it('a verification-only worker checks what an execution-only worker did, and each refuses the other', async () => {
    const db = b.db();
    sim.reset();
    sim.setState({ token: OPS_TOKEN });
    sim.setService('roles-a', { status: 'degraded' });
    const task = await submit(db, 't.restart', 'roles-a');
    expect(task.awaitingRole).toBe('execution');

    // The verification worker has nothing to do: the task waits for execution.
    const verifier = () => worker(db, 'wv', ['verification']);
    expect((await verifier().runUntilIdle()).claimed).toBe(0);
    expect((await getTask(db, task.id))!.state).toBe('queued');
    expect(await listAttempts(db, task.id)).toHaveLength(0);

    // The execution worker runs the steps and hands the checks on, without running one.
    await worker(db, 'we', ['execution']).runUntilIdle();
    const handed = (await getTask(db, task.id))!;
    expect(handed.state).toBe('running');
    expect(handed.leaseOwner).toBeNull();
    expect(handed.awaitingRole).toBe('verification');
    expect((await listAttempts(db, task.id)).map((a) => a.kind)).toEqual(['action', 'action']);
    // ... and a second execution worker leaves it alone.
    expect((await worker(db, 'we2', ['execution']).runUntilIdle()).claimed).toBe(0);

    await verifier().runUntilIdle();
    const done = (await getTask(db, task.id))!;
    expect(done.state).toBe('completed');

    const events = await listEvents(db, task.id);
    const starts = events.filter((e) => e.type === 'attempt.started');
    expect(starts.length).toBeGreaterThanOrEqual(3);
    for (const e of starts) {
      const role = e.data.kind === 'verify' ? 'verification' : 'execution';
      expect(e.data.role).toBe(role);
      expect(e.actor).toBe(role === 'verification' ? 'worker:wv' : 'worker:we');
    }
    for (const e of events.filter((x) => x.type === 'attempt.finished' || x.type === 'verification.result')) expect(e.data.role).toBeTypeOf('string');
    const handOn = events.find((e) => e.type === 'lease.released' && e.data.role === 'verification');
    expect(handOn?.actor).toBe('worker:we');

    // One run id on every request the API saw for this task, checks included.
    const seen = sim.requests();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const r of seen) expect(r.headers[TASK_HEADER.toLowerCase()]).toBe(task.id);
  });

  it('two tasks with one concurrency key never run at once; other keys run alongside (two workers)', async () => {
    const dbA = b.db();
    // A second handle of its own: on PostgreSQL a second pool, on PGlite a second client of the
    // embedded database, as a second worker process would be.
    const dbB = await openDb(b.url());
    try {
      sim.reset();
      sim.setState({ token: OPS_TOKEN });
      // Slow restarts, so a second task of a key would have every chance to start meanwhile.
      sim.fault({ method: 'POST', path: '/services/*', delayMs: 40, times: -1 });
      const services = ['key-a', 'key-a', 'key-a', 'key-a', 'key-b', 'key-b', 'key-b', 'key-b'];
      for (const s of new Set(services)) sim.setService(s, { status: 'degraded' });
      const tasks = [];
      for (const s of services) tasks.push(await submit(dbA, 't.restart-keyed', s));
      expect(tasks.map((t) => t.concurrencyKey)).toEqual(services);

      // Who is running, per key, as the API sees it: a task's requests start with its first and end with its last.
      const order: { task: string; service: string }[] = [];
      sim.events.on('request', (r) => {
        const id = r.headers[TASK_HEADER.toLowerCase()];
        const service = /^\/services\/([^/]+)\//.exec(r.path)?.[1];
        if (typeof id === 'string' && service) order.push({ task: id, service });
      });
      await Promise.all([worker(dbA, 'ka').runUntilIdle(), worker(dbB, 'kb').runUntilIdle()]);

      for (const t of tasks) expect((await getTask(dbA, t.id))!.state).toBe('completed');
      for (const key of ['key-a', 'key-b']) {
        // Per key, the requests come in blocks, one task after the other: none comes back once another started.
        const seq = order.filter((o) => o.service === key).map((o) => o.task);
        const finished = new Set<string>();
        for (let i = 1; i < seq.length; i++) {
          if (seq[i] !== seq[i - 1]) finished.add(seq[i - 1]!);
          expect(finished.has(seq[i]!), `task ${seq[i]} of ${key} ran again after another task of its key started`).toBe(false);
        }
        expect(new Set(seq).size).toBe(4);
      }
      // Different keys interleave: while one task of key-a ran, one of key-b sent a request.
      const firstA = order.findIndex((o) => o.service === 'key-a');
      const lastOfFirstA = order.map((o) => o.task).lastIndexOf(order[firstA]!.task);
      expect(order.slice(firstA, lastOfFirstA).some((o) => o.service === 'key-b')).toBe(true);
    } finally {
      await dbB.close();
    }
  });

  it('admits one task per key to concurrent claims, however many claimers race', async () => {
    const dbA = b.db();
    const dbB = await openDb(b.url());
    try {
      for (let round = 0; round < 5; round++) {
        const key = `race-${b.kind}-${round}`;
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push((await submit(dbA, 't.restart-keyed', key)).id);
        const now = new Date();
        // Each claimer passes over a different number of them (as a worker does with the tasks it
        // is driving), so each would admit a different task: only the per-key lock keeps them to one.
        const claims = await Promise.all(
          [dbA, dbB, dbA, dbB].map((db, i) => claimTasks(db, { workerId: `race-${i}`, now, leaseMs: 60_000, limit: 4, exclude: ids.slice(0, i) })),
        );
        const mine = claims.flat().filter((c) => ids.includes(c.task.id));
        expect(mine).toHaveLength(1);
        // A task left waiting says what for: the key, its limit and the task holding it.
        const waiting = ids.find((id) => id !== mine[0]!.task.id)!;
        const view = await readTaskView(dbA, waiting);
        expect(view!.waitingFor).toEqual({ concurrencyKey: key, limit: 1, holders: [{ id: mine[0]!.task.id, state: 'running' }] });
        expect(formatTask(view!)).toContain(`waiting for   concurrency key ${key}: 1 of 1 running: ${mine[0]!.task.id} (running)`);
      }
    } finally {
      await dbB.close();
    }
  });
});

/**
 * Crash recovery with real processes: a worker is SIGKILLed after the API applied a step's
 * effect and before the worker recorded the outcome; a second worker takes the task over when
 * the lease expires and finishes it, with each effect applied exactly once.
 *
 * Runs the built CLI (`npm test` builds first). PGlite allows one process per data directory,
 * so the test closes its own handle while a worker process has the database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSim, type SpawnedSim } from '../../src/sim/index.js';
import { openDb } from '../../src/store/db.js';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { harness, FIXTURE_RUNBOOKS, OPS_TOKEN } from '../helpers/harness.js';
import { crashBackends, dropCreatedDatabases } from '../helpers/targets.js';

const BIN = fileURLToPath(new URL('../../bin/runwarden', import.meta.url));

let sim: SpawnedSim;
let dir: string;
let configPath: string;
beforeAll(async () => {
  sim = await spawnSim();
  dir = await mkdtemp(join(tmpdir(), 'rw-crash-'));
  configPath = join(dir, 'runwarden.yaml');
  await writeFile(configPath, 'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\n');
});
afterAll(async () => {
  await dropCreatedDatabases();
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Workers this file started; any still running when a test ends (it failed half way) is killed. */
const started = new Set<ChildProcess>();
afterEach(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
});

function startWorker(target: string, id: string, extra: string[] = []): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [BIN, 'work', '--db', target, '--runbooks', FIXTURE_RUNBOOKS, '--config', configPath, '--lease', '1s', '--worker-id', id, ...extra], {
    env: { ...process.env, OPS_API_URL: sim.url, OPS_TOKEN, RUNWARDEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Waits (by looking again on each answer, no fixed sleeps) until the sim applied `n` effects of a kind. */
async function untilEffects(kind: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await sim.count(kind)) < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ${kind} effect(s)`);
    await new Promise((r) => setImmediate(r));
  }
}

describe.each(crashBackends())('crash recovery on $kind', ({ kind, target }) => {
  const cases = [
    { name: 'a keyed step replays with its key', taskClass: 't.restart', input: { service: 'crash-svc' }, path: '/services/crash-svc/restart', kind: 'service.restart', state: { services: { 'crash-svc': { status: 'degraded' as const } } } },
    { name: 'a once step is found by its probe, not replayed', taskClass: 't.charge', input: { order: 'crash-order', amount: 7 }, path: '/billing/charges', kind: 'billing.charge.create', state: {} },
  ];

  it.each(cases)('$name: SIGKILL mid-step, a second worker finishes, one effect', async (c) => {
    await sim.reset();
    await sim.setState(c.state);
    await sim.fault({ method: 'POST', path: c.path, holdAfterEffectMs: 60_000 });
    const location = await target();
    const db0 = await openDb(location);
    const h = await harness(db0, sim);
    const task = await h.submit(c.taskClass, c.input, { externalRef: `crash-${kind}-${c.kind}` });
    await db0.close();

    const first = startWorker(location, 'w-first');
    await untilEffects(c.kind, 1);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    await sim.clearFaults();

    const second = startWorker(location, 'w-second', ['--until-idle']);
    const code = await second.exited;
    expect(code, second.output()).toBe(0);

    const db1 = await openDb(location);
    try {
      const done = await getTask(db1, task.id);
      expect(done?.state).toBe('completed');
      expect(await sim.count(c.kind)).toBe(1);
      const events = await listEvents(db1, task.id);
      expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(true);
      expect(events.some((e) => e.type === 'lease.acquired' && e.data.takeover === true && e.data.worker === 'w-second')).toBe(true);
      const posts = (await sim.requests()).filter((r) => r.method === 'POST' && r.path === c.path);
      if (c.taskClass === 't.restart') {
        // Replayed once, with the same key; the API applied it once.
        expect(posts).toHaveLength(2);
        expect(new Set(posts.map((p) => p.headers['idempotency-key'])).size).toBe(1);
      } else {
        // Never replayed: the probe found the charge.
        expect(posts).toHaveLength(1);
        expect(events.find((e) => e.type === 'probe.result')?.data.verdict).toBe('present');
      }
    } finally {
      await db1.close();
    }
  }, 60_000);

  it('SIGTERM stops gracefully: the attempt in flight is recorded, the task handed back, nothing in doubt', async () => {
    await sim.reset();
    await sim.setState({ services: { 'term-svc': { status: 'degraded' } } });
    await sim.fault({ method: 'POST', path: '/services/term-svc/restart', holdAfterEffectMs: 1500 });
    const location = await target();
    const db0 = await openDb(location);
    const task = await (await harness(db0, sim)).submit('t.restart', { service: 'term-svc' });
    await db0.close();

    const w = startWorker(location, 'w-term');
    await untilEffects('service.restart', 1);
    w.child.kill('SIGTERM');
    expect(await w.exited, w.output()).toBe(0);

    const db1 = await openDb(location);
    try {
      const t = await getTask(db1, task.id);
      // The restart finished and was recorded; the verification had not started: back to the queue.
      expect(t?.state).toBe('queued');
      expect(t?.leaseOwner).toBe(null);
      expect(t?.steps.restart?.captures.restartId).toMatch(/^rst_/);
      const events = await listEvents(db1, task.id);
      expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(false);
      expect(events.slice(-2).map((e) => e.type)).toEqual(['lease.released', 'state.changed']);
      expect(events.at(-1)?.data).toEqual({ from: 'running', to: 'queued' });
    } finally {
      await db1.close();
    }
    const again = startWorker(location, 'w-after', ['--until-idle']);
    expect(await again.exited, again.output()).toBe(0);
    const db2 = await openDb(location);
    try {
      expect((await getTask(db2, task.id))?.state).toBe('completed');
      expect(await sim.count('service.restart')).toBe(1);
    } finally {
      await db2.close();
    }
  }, 60_000);
});

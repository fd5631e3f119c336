/**
 * The worker's process stays responsive while the embedded database works: its event loop keeps
 * turning (delay p99 under 10ms) while 8 tasks run, with HTTP steps and with no-I/O steps, an
 * HTTP step with a 300ms timeout against a server that answers in 50ms never times out, and
 * SIGINT stops a worker draining a long queue at once, not when the queue is empty.
 *
 * Before, PGlite ran its WebAssembly on the main thread: with no-I/O steps the loop did not
 * turn at all until the queue was drained. The same suite runs on PostgreSQL as the yardstick.
 * (bench/run.ts reports the same figures on a machine to itself.)
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { openDb } from '../../src/store/db.js';
import { clonePglite, describeBackends } from '../helpers/backends.js';
import { computeRunbooks, executor, httpRunbooks, submitLoad } from './fixtures/load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DRAIN = fileURLToPath(new URL('./fixtures/drain-worker.ts', import.meta.url));

interface LoopDelay {
  /** monitorEventLoopDelay's p99, in ms: what a user of the process sees. */
  p99: number;
  /** The p99 of the same delays less the time this thread waited for a CPU (Linux), in ms. */
  ownP99: number;
  samples: number;
  ms: number;
}

/** How long this thread has waited on a run queue so far, in ms (Linux); undefined elsewhere. */
function runQueueWaitMs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * The event-loop delay while `fn` runs. The suite's other files, and anything else on the
 * machine, take CPUs too, and a loop that waits for a CPU is late without being blocked; the
 * assertion is on the delay our own work causes: each 1ms sample's lateness less the time the
 * thread spent waiting to be scheduled meanwhile.
 */
async function loopDelay(fn: () => Promise<void>): Promise<LoopDelay> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const own: number[] = [];
  let last = performance.now();
  let lastWait = runQueueWaitMs();
  const sample = () => {
    const now = performance.now();
    const wait = runQueueWaitMs();
    const waited = wait !== undefined && lastWait !== undefined ? wait - lastWait : 0;
    own.push(Math.max(0, now - last - 1 - waited));
    last = now;
    lastWait = wait;
  };
  const tick = setInterval(sample, 1);
  const started = performance.now();
  h.enable();
  try {
    await fn();
  } finally {
    h.disable();
    clearInterval(tick);
    sample(); // the last stretch counts, even if the loop never turned in it
  }
  own.sort((a, b) => a - b);
  return { p99: h.percentile(99) / 1e6, ownP99: own[Math.floor(own.length * 0.99)] ?? 0, samples: h.count, ms: performance.now() - started };
}

/** A loop that turned: a sampler every ms finds it free often (none at all when starved). */
function expectResponsive(d: LoopDelay): void {
  const said = `event-loop delay p99 ${d.p99.toFixed(1)}ms (${d.ownP99.toFixed(1)}ms without waits for a CPU), ${d.samples} samples in ${Math.round(d.ms)}ms`;
  expect(d.samples, said).toBeGreaterThan(d.ms / 10);
  expect(d.ownP99, said).toBeLessThan(10);
}

let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }, 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describeBackends('a worker running 8 tasks at a time', ({ db }) => {
  it('keeps its event loop turning with HTTP steps, and a 300ms timeout against 50ms answers never fires', async () => {
    await submitLoad(db(), httpRunbooks, 'load.http', 40, { LOAD_URL: url });
    const worker = new Worker({ db: db(), runbooks: httpRunbooks, executor, logger: silentLogger, concurrency: 8, pollMs: 20, env: { LOAD_URL: url } });
    const delay = await loopDelay(async () => {
      await worker.runUntilIdle();
    });
    const timeouts = await db().query<{ n: number }>("SELECT count(*)::int AS n FROM attempts WHERE failure_class = 'timeout'");
    const done = await db().query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE task_class = 'load.http' AND state = 'completed'");
    expect(timeouts[0]!.n).toBe(0);
    expect(done[0]!.n).toBe(40);
    expectResponsive(delay);
  }, 120_000);

  it('keeps its event loop turning with no-I/O steps', async () => {
    await submitLoad(db(), computeRunbooks, 'load.compute', 100);
    const worker = new Worker({ db: db(), runbooks: computeRunbooks, executor, logger: silentLogger, concurrency: 8, pollMs: 20 });
    const delay = await loopDelay(async () => {
      await worker.runUntilIdle();
    });
    const done = await db().query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE task_class = 'load.compute' AND state = 'completed'");
    expect(done[0]!.n).toBe(100);
    expectResponsive(delay);
  }, 120_000);
});

describe('SIGINT while a worker drains a long queue of no-I/O tasks (embedded database)', () => {
  it('stops the worker at once: most of the queue is still there', async () => {
    const dir = await clonePglite();
    const n = 300;
    const child = spawn(process.execPath, ['--import', 'tsx', DRAIN, dir, String(n)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The first task done: the worker is draining the queue.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('released ')) resolve();
      });
      void exited.then(() => reject(new Error(`the worker exited before releasing a task:\n${out}\n${err}`)));
    });
    child.kill('SIGINT');
    expect(await exited, err).toBe(0);
    expect(out).toContain('stopped');
    const db = await openDb(dir);
    try {
      const [left] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE state = 'queued'");
      // A worker that heard the signal only once the queue was empty would leave none.
      expect(left!.n).toBeGreaterThan(n / 2);
      const [stuck] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE state = 'running'");
      expect(stuck!.n).toBe(0);
    } finally {
      await db.close();
      await rm(join(dir, '..'), { recursive: true, force: true });
    }
  }, 120_000);
});

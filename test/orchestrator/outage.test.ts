/**
 * Workers live through PostgreSQL going away: `runwarden work` processes on a throwaway server
 * (never the shared one) that the test stops and starts. The worker must not exit, must say so
 * once per outage (not once per query), must record the outcome of the action it had in flight
 * once the database is back, and must never turn the outage into an escalation. A worker started
 * while the database is down waits for it.
 *
 * Runs the built CLI (`npm test` builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../src/sim/index.js';
import { openDb } from '../../src/store/db.js';
import { getTask, listAttempts, listEvents } from '../../src/store/tasks.js';
import { BIN } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, harness, OPS_TOKEN } from '../helpers/harness.js';
import { available, startThrowawayPg, type ThrowawayPg } from '../helpers/throwaway-pg.js';

interface Spawned {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
  /** Resolves once stderr has a line containing `text`. */
  saw(text: string): Promise<void>;
}

describe.runIf(available())('workers through PostgreSQL outages (a throwaway server)', () => {
  let server: ThrowawayPg;
  let sim: Sim;
  let dir: string;
  let configPath: string;
  beforeAll(async () => {
    server = await startThrowawayPg();
    sim = await startSim();
    dir = await mkdtemp(join(tmpdir(), 'rw-outage-'));
    configPath = join(dir, 'runwarden.yaml');
    await writeFile(configPath, 'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\n');
  });
  afterAll(async () => {
    await sim?.close();
    await server?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function work(url: string, id: string, extra: string[] = []): Spawned {
    let stderr = '';
    const waiters = new Set<{ text: string; resolve: () => void; reject: (e: Error) => void }>();
    const child = spawn(process.execPath, [BIN, 'work', '--db', url, '--runbooks', FIXTURE_RUNBOOKS, '--config', configPath, '--worker-id', id, ...extra], {
      env: { ...process.env, OPS_API_URL: sim.url, OPS_TOKEN, RUNWARDEN_LOG_LEVEL: 'info', RUNWARDEN_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const w of waiters) {
        if (!stderr.includes(w.text)) continue;
        waiters.delete(w);
        w.resolve();
      }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        // A worker that exits while a test waits for a line of its log fails that wait at once.
        for (const w of waiters) w.reject(new Error(`worker exited (${code ?? signal}) before logging "${w.text}":\n${stderr}`));
        waiters.clear();
        resolve({ code, signal });
      }),
    );
    return {
      child,
      exited,
      stderr: () => stderr,
      saw: (text) =>
        stderr.includes(text)
          ? Promise.resolve()
          : child.exitCode !== null || child.signalCode !== null
            ? Promise.reject(new Error(`worker exited before logging "${text}":\n${stderr}`))
            : new Promise((resolve, reject) => waiters.add({ text, resolve, reject })),
    };
  }

  const lines = (s: Spawned, msg: string) => s.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}`));

  it('a worker keeps its task through a restart: no exit, one line per outage, the outcome recorded after, no escalation', async () => {
    const url = await server.createDatabase('rw_outage_restart');
    const db0 = await openDb(url);
    sim.setService('outage-svc', { status: 'degraded' });
    // The restart is applied, then answered only after the database has gone away.
    sim.fault({ method: 'POST', path: '/services/outage-svc/restart', holdAfterEffectMs: 1500 });
    const task = await (await harness(db0, sim)).submit('t.restart', { service: 'outage-svc' });
    await db0.close();

    const requested = new Promise<void>((resolve) => sim.events.on('request', (r) => r.path === '/services/outage-svc/restart' && resolve()));
    const answered = new Promise<void>((resolve) => sim.events.on('settled', (r) => r.path === '/services/outage-svc/restart' && resolve()));
    const w = work(url, 'w-outage', ['--until-idle', '--lease', '20s']);
    await requested;
    await server.stop();
    // The action finishes while the database is away; its outcome cannot be written yet.
    await answered;
    await w.saw('database unavailable');
    await server.start();
    const exit = await w.exited;
    expect(exit, w.stderr()).toEqual({ code: 0, signal: null });

    expect(lines(w, 'database unavailable')).toHaveLength(1);
    expect(lines(w, 'database available again')).toHaveLength(1);
    const db1 = await openDb(url);
    try {
      expect((await getTask(db1, task.id))?.state).toBe('completed');
      const events = await listEvents(db1, task.id);
      // One claim, no takeover, nothing in doubt, no escalation: the worker carried on where it was.
      expect(events.filter((e) => e.type === 'lease.acquired')).toHaveLength(1);
      expect(events.some((e) => e.type === 'attempt.in_doubt' || e.type === 'escalated')).toBe(false);
      const restart = (await listAttempts(db1, task.id)).filter((a) => a.step === 'restart' && a.kind === 'action');
      expect(restart.map((a) => a.outcome)).toEqual(['succeeded']);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    } finally {
      await db1.close();
    }
    expect(sim.count('service.restart')).toBe(1);
  }, 60_000);

  it('a worker started while the database is down waits for it, saying so once', async () => {
    await server.start(); // whatever an earlier test left
    const url = await server.createDatabase('rw_outage_start');
    const db0 = await openDb(url);
    sim.setService('late-svc', { status: 'degraded' });
    const task = await (await harness(db0, sim)).submit('t.restart', { service: 'late-svc' });
    await db0.close();
    await server.stop();

    const w = work(url, 'w-late', ['--until-idle']);
    await w.saw('database unavailable at start; waiting for it');
    expect(w.child.exitCode).toBe(null);
    await server.start();
    const exit = await w.exited;
    expect(exit, w.stderr()).toEqual({ code: 0, signal: null });
    expect(lines(w, 'database unavailable at start; waiting for it')).toHaveLength(1);
    expect(lines(w, 'database available; starting')).toHaveLength(1);

    const db1 = await openDb(url);
    try {
      expect((await getTask(db1, task.id))?.state).toBe('completed');
    } finally {
      await db1.close();
    }
  }, 60_000);
});

/**
 * The fault points killing a real process: `runwarden work` with RUNWARDEN_FAULT=<point>@<step>:kill
 * SIGKILLs itself exactly at that commit boundary; a second worker then takes the task over and
 * the test checks that nothing was lost or done twice. The in-process twins (a throw at the same
 * points) are in fault-points.test.ts.
 *
 * PostgreSQL only, each case on a database of its own so the cases run side by side (a killed
 * worker's task waits out its lease). Runs the built CLI (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { DEFAULT_CLAIM_MS, deliverDue } from '../../src/escalation/outbox-delivery.js';
import type { FaultPoint } from '../../src/fault-points.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { openDb, type Db } from '../../src/store/db.js';
import { listDeliveries } from '../../src/store/outbox.js';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { BIN } from '../helpers/cli.js';
import { DRIVER_CASES, effectsFor } from '../helpers/fault-cases.js';
import { FIXTURE_RUNBOOKS, harness, OPS_TOKEN } from '../helpers/harness.js';
import { dropCreatedDatabases, freshPostgresDatabase, pgUp } from '../helpers/targets.js';

let sim: Sim;
let dir: string;
let configPath: string;
let packetsFile: string;

beforeAll(async () => {
  sim = await startSim();
  dir = await mkdtemp(join(tmpdir(), 'rw-fault-kill-'));
  configPath = join(dir, 'runwarden.yaml');
  packetsFile = join(dir, 'packets.jsonl');
  await writeFile(configPath, `env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\nsinks:\n  archive: { type: file, path: ${packetsFile} }\nroutes:\n  default: [archive]\n`);
});
afterAll(async () => {
  await sim?.close();
  await dropCreatedDatabases();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `runwarden work` to its end; returns how it ended and what it said. */
function work(url: string, id: string, extra: string[], fault?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, [BIN, 'work', '--db', url, '--runbooks', FIXTURE_RUNBOOKS, '--config', configPath, '--worker-id', id, '--lease', '1s', '--until-idle', ...extra], {
      env: { ...process.env, OPS_API_URL: sim.url, OPS_TOKEN, RUNWARDEN_LOG_LEVEL: 'warn', ...(fault ? { RUNWARDEN_FAULT: fault } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

async function withDb<T>(url: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(url);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describe.runIf(pgUp)('fault points kill a real worker; the next worker recovers (PostgreSQL)', () => {
  let n = 0;
  const tag = (p: string) => `fk-${p.replace(/[^a-z]/g, '')}-${++n}`;

  it.concurrent.each(DRIVER_CASES)('$point in $name', async (c) => {
    const url = await freshPostgresDatabase('rw_fk');
    const t = tag(c.point);
    c.arrange(sim, t);
    const task = await withDb(url, async (db) => (await harness(db, sim)).submit(c.taskClass, c.input(t)));

    const first = await work(url, 'w-killed', [], `${c.point}@${c.step}:kill`);
    // Killed by its own fault point, not ended any other way (with no takeover left, it may have got to its last write first).
    expect(first.signal, first.output).toBe('SIGKILL');
    const second = await work(url, 'w-next', []);
    expect(second.code, second.output).toBe(0);

    await withDb(url, async (db) => {
      expect((await getTask(db, task.id))?.state).toBe(c.ends);
      const events = await listEvents(db, task.id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(c.inDoubt);
      expect(events.some((e) => e.type === 'escalated')).toBe(false);
    });
    expect(effectsFor(sim.effects(), t)).toEqual(c.effects);
  }, 60_000);

  it.concurrent.each(['claim.before', 'claim.after'] as const)('%s', async (point) => {
    const url = await freshPostgresDatabase('rw_fk');
    const t = tag(point);
    sim.setService(t, { status: 'degraded' });
    const task = await withDb(url, async (db) => (await harness(db, sim)).submit('t.restart', { service: t }));

    expect((await work(url, 'w-killed', [], `${point}:kill`)).signal).toBe('SIGKILL');
    const second = await work(url, 'w-next', []);
    expect(second.code, second.output).toBe(0);

    await withDb(url, async (db) => expect((await getTask(db, task.id))?.state).toBe('completed'));
    expect(effectsFor(sim.effects(), t)).toEqual({ 'service.restart': 1 });
  }, 60_000);

  it.concurrent.each(['delivery.before-send', 'delivery.after-send', 'delivery.after-record'] as FaultPoint[])('%s', async (point) => {
    const url = await freshPostgresDatabase('rw_fk');
    const t = tag(point);
    sim.setService(t, { status: 'degraded' });
    sim.fault({ method: 'POST', path: `/services/${t}/restart`, status: 403 });
    const task = await withDb(url, async (db) => (await harness(db, sim)).submit('t.restart', { service: t }));

    // The worker escalates the task, then dies delivering its packet.
    expect((await work(url, 'w-killed', [], `${point}:kill`)).signal).toBe('SIGKILL');
    // Another deliverer, once the dead one's claim has lapsed.
    const config = deploymentConfig({ sinks: { archive: { name: 'archive', type: 'file', path: packetsFile } }, routes: { default: ['archive'] } });
    await withDb(url, (db) => deliverDue({ db, config, masker: createMasker([]), now: new Date(Date.now() + DEFAULT_CLAIM_MS + 1000) }));

    await withDb(url, async (db) => {
      expect((await getTask(db, task.id))?.state).toBe('escalated');
      expect((await listDeliveries(db, { taskId: task.id })).map((r) => r.state)).toEqual(['delivered']);
      const ok = (await listEvents(db, task.id)).filter((e) => e.type === 'packet.delivery' && e.data.ok === true);
      expect(ok).toHaveLength(1);
    });
    const lines = (await readFile(packetsFile, 'utf8')).split('\n').filter((l) => l.includes(task.id));
    expect(lines).toHaveLength(1);
  }, 60_000);
});

/**
 * `runwarden work` on the embedded default owns the data directory, and the commands a person
 * runs beside it (submit, packet, show, approve, tasks) connect to it and succeed on their first
 * try, fifty in a row; the worker carries each approved task on. Built CLI, real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSim, type SpawnedSim } from '../../src/sim/index.js';
import { openDb, type Db } from '../../src/store/db.js';
import { getTask } from '../../src/store/tasks.js';
import { BIN, ensureBuilt, runCli, type CliResult } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN } from '../helpers/harness.js';

let sim: SpawnedSim;
let base: string;
let dir: string;
let config: string;
let worker: ChildProcess;
let workerOut = '';
let db: Db;

const env = () => ({ OPS_API_URL: sim.url, OPS_TOKEN });

beforeAll(async () => {
  ensureBuilt();
  sim = await spawnSim();
  base = await mkdtemp(join(tmpdir(), 'rw-shared-cli-'));
  dir = join(base, 'db');
  config = join(base, 'runwarden.yaml');
  await writeFile(config, 'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\n');
  worker = spawn(process.execPath, [BIN, 'work', '--db', dir, '--runbooks', FIXTURE_RUNBOOKS, '--config', config, '--concurrency', '4'], {
    env: { ...process.env, ...env(), RUNWARDEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout!.on('data', (d: Buffer) => (workerOut += d.toString()));
  // Its start-up line comes once the database is open, and says what a crash or a power loss keeps.
  await new Promise<void>((resolve, reject) => {
    worker.stderr!.on('data', (d: Buffer) => {
      workerOut += d.toString();
      if (workerOut.includes('runwarden work: worker')) resolve();
    });
    worker.once('exit', () => reject(new Error(`the worker exited:\n${workerOut}`)));
  });
  expect(workerOut).toMatch(/on the embedded database in .*each commit is on disk before it returns.*power loss/);
  db = await openDb(dir);
}, 120_000);

afterAll(async () => {
  await db?.close();
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await sim?.stop();
  await rm(base, { recursive: true, force: true });
});

async function until(id: string, state: string): Promise<void> {
  await vi.waitFor(async () => expect((await getTask(db, id))?.state).toBe(state), { timeout: 30_000, interval: 50 });
}

describe('commands beside `runwarden work` on the embedded database', () => {
  it('succeed on their first try, fifty in a row, and the worker carries each approved task on', async () => {
    const commands: Array<{ name: string; r: CliResult }> = [];
    const run = async (name: string, args: string[], input?: string) => {
      const r = await runCli([...args, '--db', dir], { env: env(), ...(input !== undefined ? { input } : {}) });
      commands.push({ name, r });
      expect(r.code, `${name} (command ${commands.length}): ${r.stderr}`).toBe(0);
      return r;
    };
    for (let round = 0; round < 10; round++) {
      const request = JSON.stringify({ taskClass: 't.approval', externalRef: `SHARED-${round}`, input: { order: `ord-${round}`, amount: 5000 } });
      const submitted = await run('submit', ['submit', '-', '--runbooks', FIXTURE_RUNBOOKS], request);
      const id = /tsk_\w+/.exec(submitted.stdout)![0];
      await until(id, 'awaiting_approval');
      const [packet, shown] = await Promise.all([run('packet', ['packet', id]), run('show', ['show', id])]);
      expect(JSON.parse(packet.stdout)).toMatchObject({ task: { id } });
      expect(shown.stdout).toContain('awaiting_approval');
      await run('approve', ['approve', id, '--operator', 'tester', '--reason', 'within budget']);
      const listed = await run('tasks', ['tasks']);
      expect(listed.stdout).toContain(id);
      // The worker owns the database and was woken by the approval: it finishes the task.
      await until(id, 'completed');
    }
    expect(commands).toHaveLength(50);
    expect(await sim.count('billing.invoice.create')).toBe(10);
  }, 300_000);
});

/**
 * What `runwarden serve` says and serves at start, as a user runs it (a real process owning its
 * embedded database): the runbooks with problems are reported with their task classes, as
 * `work` reports them, while the good ones are served; `--roles execution` makes a worker that
 * runs a task's steps and leaves its checks to a verification worker, as `work --roles` does;
 * a role that does not exist is a usage error.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { hashApiToken } from '../../src/config/tokens.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { openDb } from '../../src/store/db.js';
import { getTask, listAttempts } from '../../src/store/tasks.js';
import { clonePglite } from '../helpers/backends.js';
import { BIN, ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN } from '../helpers/harness.js';

vi.setConfig({ testTimeout: 90_000 });

const BROKEN = `runbook: t-broken
version: 1
title: Broken (test)
owner: test
taskClasses: [t.broken]
steps:
  - id: one
    action: teleport
`;
const VIEWER = 'tok-serve-start-viewer-5c1e';
const INTAKE = 'tok-serve-start-intake-8a2f';

let sim: Sim;
let dir: string;
let runbooks: string;
let config: string;
let dataDir: string;

beforeAll(async () => {
  ensureBuilt();
  sim = await startSim();
  dir = await mkdtemp(join(tmpdir(), 'rw-serve-start-'));
  runbooks = join(dir, 'runbooks');
  await mkdir(runbooks);
  await copyFile(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), join(runbooks, 't-restart.yaml'));
  await writeFile(join(runbooks, 't-broken.yaml'), BROKEN);
  config = join(dir, 'runwarden.yaml');
  await writeFile(config, 'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\ntokens: { file: ./tokens.yaml }\n');
  const tokens = [
    { name: 'vic', role: 'viewer', sha256: hashApiToken(VIEWER) },
    { name: 'queue', role: 'intake', sha256: hashApiToken(INTAKE) },
  ];
  await writeFile(join(dir, 'tokens.yaml'), `tokens:\n${tokens.map((t) => `  - { name: ${t.name}, role: ${t.role}, sha256: ${t.sha256} }\n`).join('')}`, { mode: 0o600 });
  dataDir = await clonePglite();
});
afterAll(async () => {
  await sim?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (dataDir) await rm(join(dataDir, '..'), { recursive: true, force: true });
});

it('reports the broken runbook at start, serves the others, and with --roles execution leaves the checks to a verification worker', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', dataDir, '--runbooks', runbooks, '--config', config, '--roles', 'execution', '--worker-id', 'wrk_exec'], {
    env: { ...process.env, OPS_API_URL: sim.url, OPS_TOKEN, RUNWARDEN_LOG_LEVEL: 'error', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on (http:\/\/\S+);/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`serve exited ${code} before listening:\n${stderr}`)));
    });
    expect(stderr).toContain(`runwarden: 1 problem(s) in the runbooks under ${runbooks}; task classes t.broken are not served until they are fixed (runwarden validate):\n`);
    expect(stderr).toMatch(/ {2}\S*t-broken\.yaml:7:5: steps\[0\]\.repeat: step `one` changes state/);
    expect(stderr).toContain('worker wrk_exec (roles execution)');

    const api = async (path: string, token: string, body?: unknown) => {
      const r = await fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: r.status, json: (await r.json()) as Record<string, any> };
    };
    // The broken runbook's class is refused with its problems; the good runbook is served.
    const refused = await api('/v1/tasks', INTAKE, { taskClass: 't.broken', input: {} });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.json)).toContain('t-broken.yaml');
    sim.setService('roles-serve', { status: 'degraded' });
    const made = await api('/v1/tasks', INTAKE, { taskClass: 't.restart', input: { service: 'roles-serve' } });
    expect(made.status).toBe(201);
    const id = String(made.json.id);

    // The execution worker runs the steps and hands the task on to verification, unclaimed.
    const end = Date.now() + 30_000;
    let view: Record<string, any>;
    for (;;) {
      view = (await api(`/v1/tasks/${id}`, VIEWER)).json;
      if (view.state === 'running' && view.awaitingRole === 'verification' && view.leaseOwner === null) break;
      if (Date.now() > end) throw new Error(`the task was not handed on to verification; last: ${JSON.stringify(view)}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }

  // Everything it ran was execution's: no check was attempted before it stopped.
  const db = await openDb(dataDir);
  try {
    const task = (await getTask(db, (await db.query<{ id: string }>("SELECT id FROM tasks WHERE task_class = 't.restart'"))[0]!.id))!;
    expect(task).toMatchObject({ state: 'running', awaitingRole: 'verification', leaseOwner: null });
    const attempts = await listAttempts(db, task.id);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.map((a) => a.kind)).toEqual(attempts.map(() => 'action'));
  } finally {
    await db.close();
  }
});

it('refuses a role that does not exist as a usage error, before opening anything', async () => {
  const r = await runCli(['serve', '--roles', 'execution,janitor', '--db', join(dir, 'never-opened'), '--runbooks', runbooks]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--roles: unknown role janitor; roles are execution, verification, escalation, agent (or all)');
});

/**
 * `runwarden serve` as real processes on one PostgreSQL: tokens made with `runwarden tokens add`,
 * two serve processes sharing the work, and a SIGTERM while an attempt is in flight: the
 * listener stops, the attempt is recorded, the task handed back and finished by the other one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSim, type Sim } from '../../src/sim/index.js';
import { describePostgresOnly } from '../helpers/backends.js';
import { BIN, ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN } from '../helpers/harness.js';

interface Serve {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

describePostgresOnly('serve processes', (b) => {
  let sim: Sim;
  let dir: string;
  let config: string;
  let intake: string;
  let operator: string;
  const running: Serve[] = [];

  beforeAll(async () => {
    ensureBuilt();
    sim = await startSim();
    dir = await mkdtemp(join(tmpdir(), 'rw-serve-'));
    config = join(dir, 'runwarden.yaml');
    await writeFile(config, 'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_TOKEN }\ntokens: { file: ./tokens.yaml }\npublicUrl: https://rw.example.com\n');
    const add = async (name: string, role: string) => {
      const r = await runCli(['tokens', 'add', name, '--role', role, '--config', config]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('shown only now');
      return r.stdout.trim();
    };
    intake = await add('queue', 'intake');
    operator = await add('ana', 'operator');
    const list = await runCli(['tokens', 'list', '--json', '--config', config]);
    expect(JSON.parse(list.stdout)).toEqual([{ name: 'queue', role: 'intake' }, { name: 'ana', role: 'operator' }]);
  });
  afterAll(async () => {
    for (const s of running) s.child.kill('SIGKILL');
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function serve(workerId: string): Promise<Serve> {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', b.url(), '--runbooks', FIXTURE_RUNBOOKS, '--config', config, '--worker-id', workerId, '--concurrency', '1'], {
      env: { ...process.env, OPS_API_URL: sim.url, OPS_TOKEN, RUNWARDEN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on (http:\/\/\S+);/.exec(stderr);
        if (m) {
          const s = { child, url: m[1]!, exited, stderr: () => stderr };
          running.push(s);
          resolve(s);
        }
      });
      void exited.then((code) => reject(new Error(`serve exited ${code} before listening:\n${stderr}`)));
    });
  }
  const api = async (s: Serve, path: string, token: string, body?: unknown) => {
    const r = await fetch(`${s.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, json: (await r.json()) as Record<string, any> };
  };
  async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('two serve processes share the work, and a SIGTERM hands the task in flight back', async () => {
    const [a, c] = await Promise.all([serve('wrk_serve_a'), serve('wrk_serve_b')]);
    expect((await api(a, '/v1/tasks', 'wrong')).status).toBe(401);
    expect((await api(a, '/v1/tasks', intake)).status).toBe(403);

    // Shared work: slow restarts, one at a time per process.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const service = `share-${i}`;
      sim.setService(service, { status: 'degraded' });
      sim.fault({ method: 'POST', path: `/services/${service}/restart`, delayMs: 600, times: 1 });
      const r = await api(a, '/v1/tasks', intake, { taskClass: 't.restart', input: { service } });
      expect(r.status).toBe(201);
      ids.push(String(r.json.id));
    }
    const done = await Promise.all(ids.map((id) => until(`task ${id}`, () => api(c, `/v1/tasks/${id}`, operator), (r) => r.json.state === 'completed' || r.json.state === 'escalated')));
    const workers = new Set(done.flatMap((r) => (r.json.events as Array<{ actor: string }>).map((e) => e.actor).filter((x) => x.startsWith('worker:'))));
    expect(workers).toEqual(new Set(['worker:wrk_serve_a', 'worker:wrk_serve_b']));

    // Graceful stop with an attempt in flight.
    sim.setService('stop-1', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/stop-1/restart', delayMs: 1500, times: 1 });
    const t = await api(a, '/v1/tasks', intake, { taskClass: 't.restart', input: { service: 'stop-1' } });
    const id = String(t.json.id);
    const held = await until('the restart in flight', () => api(a, `/v1/tasks/${id}`, operator), (r) => r.json.state === 'running' && r.json.currentStep === 'restart');
    const holder = held.json.leaseOwner === 'wrk_serve_a' ? a : c;
    const other = holder === a ? c : a;
    holder.child.kill('SIGTERM');
    expect(await holder.exited).toBe(0);
    await expect(fetch(`${holder.url}/healthz`)).rejects.toThrow();
    const after = await until('the task finished by the other process', () => api(other, `/v1/tasks/${id}`, operator), (r) => r.json.state === 'completed');
    const events = after.json.events as Array<{ type: string; actor: string; step: string | null; data: Record<string, unknown> }>;
    // The attempt in flight was recorded by the stopping process, not left in doubt.
    expect(events.some((e) => e.type === 'attempt.finished' && e.step === 'restart' && e.actor === `worker:${holder === a ? 'wrk_serve_a' : 'wrk_serve_b'}`)).toBe(true);
    expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(false);
    expect(sim.requests().filter((e) => e.method === 'POST' && e.path === '/services/stop-1/restart')).toHaveLength(1);

    // Revoked while serving: refused within a second or so.
    expect((await runCli(['tokens', 'revoke', 'ana', '--config', config])).code).toBe(0);
    await until('the revoked token refused', () => api(other, `/v1/tasks/${id}`, operator), (r) => r.status === 401, 5000);
    other.child.kill('SIGTERM');
    expect(await other.exited).toBe(0);
  });
});

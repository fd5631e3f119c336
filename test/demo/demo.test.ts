/**
 * `runwarden demo` as a new user runs it: the built CLI in a child process, in an empty directory
 * (no ./runbooks there: the demo must find the runbooks shipped with the package). The outcome
 * is checked from the database the demo leaves behind, not from what it printed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/store/db.js';
import { latestPacket } from '../../src/store/packets.js';
import { listEvents, listTasks, type TaskRow } from '../../src/store/tasks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'runwarden');
const run = promisify(execFile);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** True when some source has no compiled output, or an older one. */
function buildIsStale(): boolean {
  return sources(join(ROOT, 'src')).some((src) => {
    const out = join(ROOT, 'dist', relative(join(ROOT, 'src'), src)).replace(/\.ts$/, '.js');
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

async function demo(cwd: string, args: string[] = []): Promise<Ran> {
  const started = Date.now();
  // A DATABASE_URL that answers nothing: the demo must not use it, only --db or its default.
  const env = { ...process.env, NO_COLOR: '1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', RUNWARDEN_DB: '' };
  try {
    const r = await run(process.execPath, [BIN, 'demo', ...args], { cwd, env, encoding: 'utf8', timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', ms: Date.now() - started };
  }
}

/** Reads the demo's database after the CLI has exited. */
async function withDb<T>(dir: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb(join(dir, '.runwarden', 'db'));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const byState = (tasks: TaskRow[], state: TaskRow['state']) => tasks.filter((t) => t.state === state);

beforeAll(async () => {
  // The build's type errors in files still being written elsewhere do not stop tsc emitting.
  if (buildIsStale()) await run('npm', ['run', 'build'], { cwd: ROOT }).catch(() => undefined);
  expect(existsSync(join(ROOT, 'dist', 'cli', 'commands', 'demo.js'))).toBe(true);
}, 120_000);

describe('runwarden demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rw-demo-'));
  let first: Ran;
  let tasks: TaskRow[];

  beforeAll(async () => {
    first = await demo(dir);
    tasks = await withDb(dir, (db) => listTasks(db));
  }, 120_000);

  afterAll(() => {
    process.stdout.write(`runwarden demo took ${first?.ms ?? '?'} ms on a fresh directory\n`);
  });

  it('exits 0, well under a minute, with nothing on stderr', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.ms).toBeLessThan(45_000);
  });

  it('leaves one task per ending in the database', () => {
    expect(tasks.map((t) => t.state).sort()).toEqual(['awaiting_approval', 'completed', 'escalated', 'rejected', 'rolled_back']);
  });

  it('completes the restart after transient retries, recorded in the ledger', async () => {
    const [done] = byState(tasks, 'completed');
    const retries = await withDb(dir, async (db) => (await listEvents(db, done!.id)).filter((e) => e.type === 'retry.scheduled'));
    expect(retries.map((e) => e.data.failureClass)).toEqual(['transient', 'transient']);
    expect(done!.steps.restart).toMatchObject({ status: 'succeeded', attempts: 3 });
  });

  it('stores the refused request as rejected with the guard and its reason', () => {
    const [refused] = byState(tasks, 'rejected');
    expect(refused!.rejection).toMatchObject({
      kind: 'off_policy',
      problems: [{ path: 'policy.guards.on-hold-downgrade', message: expect.stringContaining('on hold') }],
    });
  });

  it('escalates the never-healthy restart as verification_failed with a stored, delivered packet', async () => {
    const [stopped] = byState(tasks, 'escalated');
    expect(stopped!.escalation).toMatchObject({ kind: 'verification_failed', step: 'restart' });
    const packet = await withDb(dir, (db) => latestPacket(db, stopped!.id));
    expect(packet?.reason).toBe('verification_failed');
    const lines = readFileSync(join(dir, '.runwarden', 'db-packets.jsonl'), 'utf8').trim().split('\n');
    expect(lines.some((l) => l.includes(packet!.id))).toBe(true);
  });

  it('rolls the failed order back, undoing every step that changed something', () => {
    const [undone] = byState(tasks, 'rolled_back');
    const status = Object.fromEntries(Object.entries(undone!.steps).map(([id, s]) => [id, s.status]));
    expect(status).toMatchObject({ 'create-account': 'compensated', 'issue-invoice': 'compensated', charge: 'compensated', 'provision-tenant': 'failed' });
  });

  it('leaves the enterprise change waiting for approval', () => {
    const [waiting] = byState(tasks, 'awaiting_approval');
    expect(waiting!.currentStep).toBe('apply-entitlement');
  });

  it('prints the verification packet in Markdown and the next commands with the real ids', () => {
    const id = (state: TaskRow['state']) => byState(tasks, state)[0]!.id;
    expect(first.stdout).toContain(`# Verification failed: `);
    expect(first.stdout).toContain(`runwarden show ${id('completed')}`);
    expect(first.stdout).toContain(`runwarden packet ${id('escalated')} --format md`);
    expect(first.stdout).toContain(`runwarden takeover ${id('escalated')} --operator you --reason`);
    expect(first.stdout).toContain(`runwarden resume ${id('escalated')} --operator you --reason`);
    expect(first.stdout).toContain(`runwarden approve ${id('awaiting_approval')} --operator you --reason`);
    // No ./runbooks in this directory: the commands are told where the demo's runbooks are.
    expect(first.stdout).toContain(`--runbooks ${join(ROOT, 'runbooks')}`);
    expect(first.stdout).not.toContain('--db');
    // serve is built: the API and the console are offered over the same tasks.
    expect(first.stdout).toContain(`runwarden serve --runbooks ${join(ROOT, 'runbooks')}`);
    // Without --keep nothing carries an approved task on, and the output says so and what to run instead.
    expect(first.stdout).toContain('Run the demo with --keep');
    // Not a terminal: plain lines, one per state change, no escape codes.
    expect(first.stdout).toMatch(/restart +tsk_\w+ +retry_scheduled -> running/);
    expect(first.stdout).not.toContain('\x1b[');
  });

  it('adds new tasks on a second run, and starts clean with --reset', async () => {
    const again = await demo(dir);
    expect(again.code).toBe(0);
    const after = await withDb(dir, (db) => listTasks(db));
    expect(after).toHaveLength(2 * tasks.length);
    expect(new Set(after.map((t) => t.externalRef)).size).toBe(after.length);

    const reset = await demo(dir, ['--reset']);
    expect(reset.code).toBe(0);
    const clean = await withDb(dir, (db) => listTasks(db));
    expect(clean).toHaveLength(tasks.length);
    expect(clean.every((t) => !after.some((a) => a.id === t.id))).toBe(true);
  }, 150_000);

  it('refuses --reset on a directory that is not an embedded database', async () => {
    const r = await demo(dir, ['--reset', '--db', '.']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not an embedded database directory');
    expect(existsSync(join(dir, '.runwarden'))).toBe(true);
  });
});

/**
 * `runwarden demo --keep` as a user follows it with two terminals: the built CLI keeps the
 * simulated API and a worker running, and operator actions taken by other processes against the
 * same database carry the demo's tasks on, visibly, each on its first try (on the embedded
 * database the demo serves the directory to them). Waits are on the demo's output lines; the
 * outcome is checked from the database once the demo has stopped on SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.js';
import { getTask, type TaskRow } from '../../src/store/tasks.js';
import { BIN, ensureBuilt, runCli, type CliResult } from '../helpers/cli.js';
import { dropCreatedDatabases, freshPostgresDatabase, pgUp } from '../helpers/targets.js';

/** A running `runwarden demo --keep`, its stdout so far, and a way to wait for a line in it. */
interface KeptDemo {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout; rejects if the demo exits or `ms` pass first. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function startKept(cwd: string, db: string): KeptDemo {
  // A DATABASE_URL that answers nothing: the demo must use only --db.
  const env = { ...process.env, NO_COLOR: '1', RUNWARDEN_LOG_LEVEL: 'warn', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', RUNWARDEN_DB: '' };
  const child = spawn(process.execPath, [BIN, 'demo', '--keep', '--db', db], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of watchers) w();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const w of watchers) w();
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (re, ms = 25_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no line matching ${re} within ${ms} ms; stdout so far:\n${out}\nstderr:\n${err}`)), ms);
        const check = () => {
          const m = out.match(re);
          if (m) done(undefined, m);
          else if (gone) done(new Error(`the demo exited before printing ${re}; stdout:\n${out}\nstderr:\n${err}`));
        };
        const done = (e?: Error, m?: RegExpMatchArray) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (e) reject(e);
          else resolve(m!);
        };
        watchers.add(check);
        check();
      }),
  };
}

/** Runs an operator command once: while the demo runs, it never needs another try. */
function act(args: string[], cwd: string): Promise<CliResult> {
  return runCli(args, { cwd });
}

/** The task id in the printed command `runwarden <command> <id> ...`. */
function idIn(stdout: string, command: string): string {
  const m = stdout.match(new RegExp(`^ {2}runwarden ${command} (tsk_\\w+) `, 'm'));
  expect(m, `no "runwarden ${command}" line in:\n${stdout}`).toBeTruthy();
  return m![1]!;
}

const completedLine = (id: string) => new RegExp(`${id} +running -> completed`);

interface Backend {
  kind: 'pglite' | 'postgres';
  target(dir: string): Promise<string>;
}

const backends: Backend[] = [{ kind: 'pglite', target: async (dir) => join(dir, 'db') }];
if (pgUp) backends.push({ kind: 'postgres', target: () => freshPostgresDatabase('rw_keep') });

beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => dropCreatedDatabases());

// The two backends at once: each waits mostly on the demo's own run.
describe.concurrent.each(backends)('runwarden demo --keep on $kind', ({ kind, target }) => {
  it('carries an approval and a resume taken in another process to completion, then stops cleanly on SIGTERM', async () => {
    const started = Date.now();
    const dir = await mkdtemp(join(tmpdir(), 'rw-keep-'));
    const db = await target(dir);
    const demo = startKept(dir, db);
    try {
      await demo.waitFor(/^ready: /m, 60_000);
      const ready = Date.now() - started;
      const out = demo.stdout();
      expect(out).toMatch(/the simulated API now reports search-api healthy: resume the escalated task/i);
      if (kind === 'pglite') expect(out).toContain('share the embedded database with the demo');
      const awaiting = idIn(out, 'approve');
      const escalated = idIn(out, 'resume');
      // The printed commands, with the flags they print.
      const flags = out.match(/^ {2}runwarden approve tsk_\w+ --operator you --reason "contract signed"(.*)$/m)![1]!.trim().split(' ');
      const withFlags = (...args: string[]) => [...args, ...flags];

      const approve = await act(withFlags('approve', awaiting, '--operator', 'you', '--reason', 'contract signed'), dir);
      expect(approve.code, approve.stderr).toBe(0);
      await demo.waitFor(completedLine(awaiting));
      const resumed = await act(withFlags('resume', escalated, '--operator', 'you', '--reason', 'search-api is healthy again'), dir);
      expect(resumed.code, resumed.stderr).toBe(0);
      await demo.waitFor(completedLine(escalated));
      const acted = Date.now() - started - ready;

      demo.child.kill('SIGTERM');
      expect(await demo.exited).toBe(0);
      expect(demo.stderr()).toBe('');

      const check = await openDb(db);
      let tasks: Array<TaskRow | undefined>;
      try {
        tasks = [await getTask(check, awaiting), await getTask(check, escalated)];
      } finally {
        await check.close();
      }
      expect(tasks.map((t) => t?.state)).toEqual(['completed', 'completed']);
      expect(tasks[1]!.steps.restart).toMatchObject({ status: 'succeeded' });
      process.stdout.write(`demo --keep on ${kind}: ready after ${ready} ms, approve and resume carried through in ${acted} ms\n`);
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
      await demo.exited;
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

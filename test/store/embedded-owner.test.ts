/**
 * One embedded data directory, several real processes: the first to open it owns it and serves
 * it, the others connect to it; when the owner goes (it exits, or is SIGKILLed in the middle of
 * writing), the next connection takes the directory over, and nothing committed is lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.js';
import { openEmbedded, ownsDataDir } from '../../src/store/embedded/open.js';
import { silentLogger } from '../../src/log.js';
import { listTasks } from '../../src/store/tasks.js';
import { clonePglite } from '../helpers/backends.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./fixtures/owner.ts', import.meta.url));
const LOCKER = fileURLToPath(new URL('./fixtures/race-lock.ts', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line (from the start) for which `match` holds. */
  line(match: (l: string) => boolean): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function child(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const watchers = new Set<() => void>();
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of watchers) w();
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => {
      resolve({ code, signal, stderr });
      for (const w of watchers) w();
    }),
  );
  return {
    proc,
    lines,
    exited,
    line: (match) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(match);
          if (hit !== undefined) {
            watchers.delete(check);
            resolve(hit);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            watchers.delete(check);
            reject(new Error(`exited without the line; output:\n${lines.join('\n')}\n${stderr}`));
          }
        };
        watchers.add(check);
        check();
      }),
  };
}

const refs = async (dir: string) => {
  const db = await openDb(dir);
  try {
    return new Set((await listTasks(db, { limit: 10_000 })).map((t) => t.externalRef));
  } finally {
    await db.close();
  }
};

describe('an embedded directory shared by processes', () => {
  let base: string;
  const clones: string[] = [];
  /** A migrated directory of its own (a copy of the suite's template: no first-run wait). */
  const migrated = async () => {
    const dir = await clonePglite();
    clones.push(join(dir, '..'));
    return dir;
  };
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'rw-owner-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
    for (const c of clones) await rm(c, { recursive: true, force: true });
  });

  it('serves the directory to another process while this one has it open, and to a second handle here', async () => {
    const dir = join(base, 'served');
    const notices: string[] = [];
    const db = await openDb(dir, { notice: (line) => notices.push(line) });
    try {
      // Creating a database takes seconds: the person waiting is told why.
      expect(notices).toEqual([expect.stringMatching(/^creating the embedded database in .*served \(first run, a few seconds\)…$/)]);
      expect(ownsDataDir(dir)).toBe(true);
      const writer = child([dir, 'writes', 'other', '5']);
      expect(await writer.line((l) => l.startsWith('ready'))).toBe('ready client');
      expect((await writer.exited).code).toBe(0);
      expect(new Set((await listTasks(db)).map((t) => t.externalRef))).toEqual(new Set(['other-0', 'other-1', 'other-2', 'other-3', 'other-4']));
      const again = await openDb(dir);
      await again.close();
      expect((await listTasks(db)).length).toBe(5); // the first handle outlives the second
    } finally {
      await db.close();
    }
    expect(ownsDataDir(dir)).toBe(false);
  }, 60_000);

  it('gives four processes opening a directory at the same time one owner', async () => {
    const dir = await migrated();
    const holders = Array.from({ length: 4 }, () => child([dir, 'hold']));
    try {
      const roles = await Promise.all(holders.map((h) => h.line((l) => l.startsWith('ready'))));
      expect(roles.sort()).toEqual(['ready client', 'ready client', 'ready client', 'ready owner']);
    } finally {
      for (const h of holders) h.proc.stdin!.end();
      await Promise.all(holders.map((h) => h.exited));
    }
  }, 90_000);

  it('loses nothing when four processes write at once and the owner leaves first', async () => {
    const dir = await migrated();
    const writers = ['a', 'b', 'c', 'd'].map((p, i) => child([dir, 'writes', p, String(5 + i * 5)]));
    const ends = await Promise.all(writers.map((w) => w.exited));
    ends.forEach((e) => expect(e.code, e.stderr).toBe(0));
    const expected = ['a', 'b', 'c', 'd'].flatMap((p, i) => Array.from({ length: 5 + i * 5 }, (_, k) => `${p}-${k}`));
    expect(await refs(dir)).toEqual(new Set(expected));
  }, 90_000);

  it('keeps every commit of an owner SIGKILLed mid-write; this process, its client, takes the directory over', async () => {
    const dir = await migrated();
    const writer = child([dir, 'writes', 'k']);
    expect(await writer.line((l) => l.startsWith('ready'))).toBe('ready owner');
    const db = await openDb(dir);
    try {
      expect(ownsDataDir(dir)).toBe(false);
      await writer.line((l) => l === 'committed k-20');
      writer.proc.kill('SIGKILL');
      expect((await writer.exited).signal).toBe('SIGKILL');
      const committed = writer.lines.filter((l) => l.startsWith('committed ')).map((l) => l.slice('committed '.length));
      // The next statement finds no owner answering and takes the directory over.
      const found = new Set((await listTasks(db, { limit: 10_000 })).map((t) => t.externalRef));
      expect(ownsDataDir(dir)).toBe(true);
      for (const ref of committed) expect(found.has(ref), ref).toBe(true);
    } finally {
      await db.close();
    }
  }, 90_000);

  it('waits for a process that holds the directory but does not serve it yet, says so, and gives up naming it', async () => {
    const dir = join(base, 'stuck');
    await writeFile(`${dir}.go`, '');
    // A process that took the lock and never serves: what a process stuck opening the database looks like.
    const locker = spawn(process.execPath, ['--import', 'tsx', LOCKER, dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => locker.stdout!.on('data', (d: Buffer) => d.toString().includes('got') && resolve()));
      const notices: string[] = [];
      const opened = openEmbedded(dir, { logger: silentLogger, notice: (l) => notices.push(l), waitMs: 2500 });
      await expect(opened).rejects.toThrow(new RegExp(`held by process ${locker.pid}, which has not served it`));
      expect(notices).toEqual([expect.stringMatching(new RegExp(`^waiting for process ${locker.pid}, which is opening the embedded database in .*stuck…$`))]);
    } finally {
      locker.stdin!.end();
      await new Promise((resolve) => locker.once('exit', resolve));
    }
  }, 60_000);

  it('goes on when the owner exits cleanly while this process uses it', async () => {
    const dir = await migrated();
    const holder = child([dir, 'hold']);
    expect(await holder.line((l) => l.startsWith('ready'))).toBe('ready owner');
    const db = await openDb(dir);
    try {
      expect((await db.query<{ one: number }>('SELECT 1 AS one'))[0]?.one).toBe(1);
      holder.proc.stdin!.end();
      expect((await holder.exited).code).toBe(0);
      expect((await db.query<{ two: number }>('SELECT 2 AS two'))[0]?.two).toBe(2);
      expect(ownsDataDir(dir)).toBe(true);
    } finally {
      await db.close();
    }
  }, 60_000);
});

/**
 * The lock of an embedded data directory, taken by real processes at the same instant: one
 * process wins, whether the directory was free or held by a process that was killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./fixtures/race-lock.ts', import.meta.url));

interface Racer {
  child: ChildProcess;
  lines: string[];
  next(): Promise<string>;
}

function racer(dir: string): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  return {
    child,
    lines,
    next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  };
}

/** A process takes the lock and is SIGKILLed holding it. */
async function staleLock(dir: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, dir, 'kill'], { cwd: ROOT, stdio: 'inherit' });
  const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  expect(signal).toBe('SIGKILL');
}

describe('the data directory lock under a race', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'rw-lock-race-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  async function race(dir: string, n: number): Promise<string[]> {
    const racers = Array.from({ length: n }, () => racer(dir));
    try {
      for (const r of racers) expect(await r.next()).toBe('ready');
      await writeFile(`${dir}.go`, '');
      return await Promise.all(racers.map((r) => r.next()));
    } finally {
      for (const r of racers) r.child.stdin!.end();
      await Promise.all(racers.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : r.child.once('exit', resolve)))));
    }
  }

  it.each([1, 2, 3])('one of six processes taking over a killed owner\'s lock wins (round %i)', async (round) => {
    const dir = join(base, `stale-${round}`);
    await staleLock(dir);
    const got = await race(dir, 6);
    expect(got.filter((l) => l === 'got'), got.join('\n')).toHaveLength(1);
  }, 60_000);

  it('one of six processes taking a lock left by an older runwarden (one file, its owner killed) wins', async () => {
    const dir = join(base, 'legacy');
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(`${dir}.lock`, `${child.pid}\n`);
    const got = await race(dir, 6);
    expect(got.filter((l) => l === 'got'), got.join('\n')).toHaveLength(1);
  }, 60_000);

  it('one of six processes taking a free directory wins', async () => {
    const got = await race(join(base, 'free'), 6);
    expect(got.filter((l) => l === 'got'), got.join('\n')).toHaveLength(1);
  }, 60_000);
});

/**
 * The embedded database outlives its process: a real child process writes and exits (cleanly,
 * or SIGKILLed with nothing closed), and the data is all there when the directory is opened
 * again; the lock a killed process left is taken over. (Several processes at once:
 * embedded-owner.test.ts.)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../../src/store/data-dir-lock.js';
import { openDb } from '../../src/store/db.js';
import { getTask, listEvents } from '../../src/store/tasks.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./fixtures/write-then-exit.ts', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('embedded database across processes', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'rw-reopen-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it.each(['close', 'kill'] as const)('finds everything a child process wrote after it exited (%s)', async (mode) => {
    const dir = join(base, `db-${mode}`, 'nested');
    const child = await run([SCRIPT, dir, mode]);
    if (mode === 'kill') expect(child.signal).toBe('SIGKILL');
    else expect(child.code, child.stderr).toBe(0);
    const id = child.stdout.trim();
    expect(id).toMatch(/^tsk_/);
    // Killed or not, the lock it held is free for the next process.
    await (await lockDataDir(dir))();

    const db = await openDb(dir);
    try {
      expect(await getTask(db, `REOPEN-${mode}`)).toMatchObject({ id, state: 'running', leaseOwner: 'w-child', eventSeq: 3 });
      expect((await listEvents(db, id)).map((e) => [e.seq, e.type])).toEqual([
        [1, 'intake.accepted'],
        [2, 'lease.acquired'],
        [3, 'state.changed'],
      ]);
    } finally {
      await db.close();
    }
  });
});

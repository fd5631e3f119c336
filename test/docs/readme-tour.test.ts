/**
 * The README's tour, run as written: its `sh` code blocks in order, in a fresh folder, by bash,
 * with `runwarden` on the PATH and nothing of this machine's runwarden settings in the
 * environment. Exported variables and the working directory carry from block to block, as they
 * do in one terminal. A `sh background` block is what a person runs in a second terminal: it is
 * started, waited for until it prints `ready:`, and stopped with Ctrl-C's signal at the end (it
 * must exit 0). `sh skip-tour` blocks (the checkout's npm commands) are not run. The simulated
 * API's port 4010 is replaced by a free one, so the test runs beside anything else on the machine.
 *
 * The blocks run one after another, so the embedded database is never opened by two commands at
 * once; the long-running ones (the simulated API, `demo --keep`) come where nothing after them
 * needs the database they hold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIN, ensureBuilt } from '../helpers/cli.js';
import { chunks, readPage } from './doc-files.js';

const TOUR_PORT = '4010';

interface Block {
  line: number;
  code: string;
  background: boolean;
}

/** The tour's blocks from the README, in order. */
function tourBlocks(md: string): Block[] {
  return chunks(md)
    .filter((c) => c.kind === 'code' && /^sh\b/.test(c.info ?? '') && !/\bskip-tour\b/.test(c.info ?? ''))
    .map((c) => ({ line: c.line, code: c.text, background: /\bbackground\b/.test(c.info ?? '') }));
}

/** What some commands must print, checked on top of their exit code. */
const EXPECT: Array<[RegExp, (out: { stdout: string; stderr: string }) => void]> = [
  [/runwarden validate runbooks\//, (o) => expect(o.stdout).toBe('3 runbooks, 0 problems\n')],
  [/runwarden init/, (o) => expect(o.stdout).toMatch(/wrote +runbooks\/service-restart\.yaml[\s\S]*wrote +runwarden\.yaml/)],
  [/"INC-4211".*\| runwarden submit -/, (o) => expect(o.stdout).toMatch(/^tsk_\S+ queued\n$/)],
  [/^runwarden tasks$/m, (o) => expect(o.stdout).toMatch(/INC-4211\s+-\s+0\/6/)],
  [/runwarden show INC-4211/, (o) => expect(o.stdout).toMatch(/^tsk_\S+ {2}completed\n/)],
  [/runwarden tasks --state escalated/, (o) => expect(o.stdout).toMatch(/escalated\s+service\.restart\s+INC-4212/)],
  [/runwarden packet INC-4212 --format md/, (o) => expect(o.stdout).toMatch(/^# Verification failed: INC-4212\n/)],
  [/runwarden takeover INC-4212/, (o) => expect(o.stdout).toMatch(/ in_handover\n$/)],
  [/runwarden show INC-4212/, (o) => expect(o.stdout).toMatch(/^tsk_\S+ {2}completed\n[\s\S]*operator\.action[\s\S]*operator:alice/m)],
];

let dir: string;
let home: string;
let state: string;
let env: NodeJS.ProcessEnv;
const background: Array<{ block: Block; child: ChildProcess; exited: Promise<number | null> }> = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'rw-tour-'));
  home = join(dir, 'home');
  const bin = join(dir, 'bin');
  await import('node:fs/promises').then((fs) => Promise.all([fs.mkdir(home), fs.mkdir(bin), fs.mkdir(join(dir, 'work'))]));
  await writeFile(join(bin, 'runwarden'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  await chmod(join(bin, 'runwarden'), 0o755);
  state = join(dir, 'state.sh');
  await writeFile(state, `cd ${JSON.stringify(join(dir, 'work'))}\n`);
  // A fresh machine's environment: no RUNWARDEN_* or DATABASE_URL of this one.
  env = { PATH: `${bin}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: home, TMPDIR: tmpdir(), LANG: 'C.UTF-8' };
}, 120_000);

afterAll(async () => {
  for (const b of background) if (b.child.exitCode === null && b.child.pid) process.kill(-b.child.pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Runs a block in bash with the state of the blocks before it, and keeps its exports and directory. */
function runBlock(code: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `set -eo pipefail\nsource ${JSON.stringify(state)}\n${code}\n{ export -p; printf 'cd %q\\n' "$PWD"; } > ${JSON.stringify(state)}\n`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (c) => resolve({ code: c, stdout, stderr }));
  });
}

/** Starts a block as a second terminal would, and waits until it says it is ready. */
async function startBlock(block: Block, code: string): Promise<void> {
  const child = spawn('bash', ['-c', `source ${JSON.stringify(state)}\nexec ${code.trim()}`], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  background.push({ block, child, exited });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`README line ${block.line}: \`${code.trim()}\` printed no "ready:" line in 150s:\n${out}`)), 150_000);
    const look = (d: Buffer) => {
      out += d.toString();
      if (/^ready:/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`README line ${block.line}: \`${code.trim()}\` exited ${c} before it was ready:\n${out}`));
    });
  });
}

it('the README tour runs as written, every command exiting 0', async () => {
  const blocks = tourBlocks(readPage('README.md'));
  // The tour is there and has its long-running parts.
  expect(blocks.length).toBeGreaterThan(10);
  expect(blocks.filter((b) => b.background).map((b) => b.code.trim())).toEqual(['runwarden sim', 'runwarden demo --keep']);
  const port = String(await freePort());
  for (const block of blocks) {
    const code = block.code.replaceAll(TOUR_PORT, port).replace(/^runwarden sim$/m, `runwarden sim --port ${port}`);
    if (block.background) {
      await startBlock(block, code);
      continue;
    }
    const r = await runBlock(code);
    expect(r.code, `README line ${block.line}:\n${block.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    for (const [when, check] of EXPECT) if (when.test(block.code)) check(r);
  }
  // Ctrl-C ends each long-running command cleanly.
  for (const b of background) process.kill(-b.child.pid!, 'SIGINT');
  for (const b of background) expect(await b.exited, `README line ${b.block.line}: ${b.block.code.trim()} on Ctrl-C`).toBe(0);
}, 400_000);

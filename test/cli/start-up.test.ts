/**
 * Start-up loads only what a command needs: `--version`, `validate` and `schema` load no database
 * driver, no model client and no HTTP server, and the reading commands no model client. (How fast
 * that makes them is measured in bench/startup.ts, not asserted here.) The command table main.ts
 * registers from is the one the commands themselves register, and a slow phase is announced on a
 * terminal only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildProgram, COMMAND_MODULES } from '../../src/cli/main.js';
import { slowNotice } from '../../src/cli/common.js';
import { whenSlow } from '../../src/runtime.js';
import { BIN, ensureBuilt, ROOT } from '../helpers/cli.js';

const HEAVY = ['@electric-sql/pglite', 'drizzle-orm', 'node_modules/pg/', 'fastify', '@langchain', 'openai', 'prom-client'];
const dir = mkdtempSync(join(tmpdir(), 'rw-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The packages (under node_modules) a run of `runwarden ...args` loaded. */
function loadedPackages(args: string[]): string[] {
  ensureBuilt();
  const file = join(dir, `${args.join('_').replace(/\W+/g, '_')}.txt`);
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'test/helpers/trace-loads.mjs'), BIN, ...args], {
    cwd: dir,
    env: { ...process.env, RW_TRACE_FILE: file, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const urls = readFileSync(file, 'utf8').split('\n');
  return [...new Set(urls.filter((u) => u.includes('node_modules/')).map((u) => u.replace(/^.*node_modules\//, '').split('/').slice(0, 2).join('/')))];
}

describe('what a command loads', () => {
  it.each([[['--version']], [['validate', join(ROOT, 'runbooks')]], [['schema', 'runbook']], [['completion', 'bash']]])('runwarden %j loads no database driver, model client or HTTP server', (args) => {
    const loaded = loadedPackages(args);
    for (const heavy of HEAVY) expect(loaded.filter((p) => `${p}/`.includes(heavy.replace(/^node_modules\//, '')))).toEqual([]);
  });

  it.each([[['tasks', '--db', 'memory://']], [['show', 'INC-1', '--db', 'memory://']]])('runwarden %j loads no model client or HTTP server', (args) => {
    ensureBuilt();
    const file = join(dir, `read-${args[0]}.txt`);
    spawnSync(process.execPath, ['--import', join(ROOT, 'test/helpers/trace-loads.mjs'), BIN, ...args], { cwd: dir, env: { ...process.env, RW_TRACE_FILE: file } });
    const loaded = readFileSync(file, 'utf8');
    expect(loaded).toContain('@electric-sql/pglite');
    for (const heavy of ['@langchain', 'openai', 'fastify', 'prom-client']) expect(loaded).not.toContain(heavy);
  });

  it('runwarden --version loads nothing but commander', () => {
    expect(new Set(loadedPackages(['--version']).map((p) => p.split('/')[0]))).toEqual(new Set(['commander']));
  });
});

describe('the command table', () => {
  it('names exactly the commands the modules register, in order', async () => {
    const program = await buildProgram();
    expect(program.commands.map((c) => c.name())).toEqual(COMMAND_MODULES.map(([name]) => name));
  });
});

describe('announcing a slow phase', () => {
  it('tells once, after a second, and never when the phase is quicker', async () => {
    vi.useFakeTimers();
    try {
      const said: string[] = [];
      let finish!: () => void;
      const slow = whenSlow(new Promise<void>((r) => (finish = r)), () => said.push('slow'));
      await vi.advanceTimersByTimeAsync(999);
      expect(said).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(said).toEqual(['slow']);
      finish();
      await slow;
      const quick = whenSlow(Promise.resolve(1), () => said.push('quick'));
      expect(await quick).toBe(1);
      await vi.advanceTimersByTimeAsync(5000);
      expect(said).toEqual(['slow']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('on stderr when it is a terminal, not at all when it is not (scripts and logs read stderr for errors)', () => {
    const written: string[] = [];
    const tty = slowNotice({ isTTY: true, write: (s: string) => (written.push(s), true) } as never);
    tty?.('creating the embedded database in ./.runwarden/db');
    expect(written).toEqual(['runwarden: creating the embedded database in ./.runwarden/db…\n']);
    expect(slowNotice({ isTTY: false, write: () => true } as never)).toBeUndefined();
  });
});

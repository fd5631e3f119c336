/**
 * `runwarden validate` and `runwarden schema` as a user runs them: the built CLI in a child
 * process, exit codes and output asserted. Builds dist/ first when a source file is newer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'runwarden');

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

function run(args: string[], cwd = ROOT, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HEADER = `runbook: demo
version: 1
title: Demo
owner: team
taskClasses: [demo.run]
systems:
  api: { baseUrl: "http://api.test" }
steps:
`;

function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rw-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

beforeAll(() => {
  // The build's type errors in files still being written elsewhere do not stop tsc emitting.
  if (buildIsStale()) spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  expect(existsSync(join(ROOT, 'dist', 'cli', 'commands', 'validate.js'))).toBe(true);
}, 120_000);

describe('runwarden validate', () => {
  it('passes the example runbooks', () => {
    const r = run(['validate', 'runbooks/']);
    expect(r).toEqual({ code: 0, stdout: '3 runbooks, 0 problems\n', stderr: '' });
  });

  it('defaults to --runbooks, then RUNWARDEN_RUNBOOKS, then ./runbooks', () => {
    expect(run(['validate']).stdout).toBe('3 runbooks, 0 problems\n');
    const dir = workspace({ 'a.yaml': `${HEADER}  - { id: a, action: set, with: { x: "1" } }\n` });
    expect(run(['validate', '--runbooks', dir]).stdout).toBe('1 runbook, 0 problems\n');
    expect(run(['validate'], ROOT, { RUNWARDEN_RUNBOOKS: dir }).stdout).toBe('1 runbook, 0 problems\n');
  });

  it('names a misspelt key at its line and column, exit 1', () => {
    const dir = workspace({ 'bad.yaml': `${HEADER}  - id: a\n    action: http\n    with: { system: api, path: /a }\n    reapeat: safe\n` });
    const r = run(['validate', 'bad.yaml'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('bad.yaml:12:5: steps[0].reapeat: unknown key `reapeat` (did you mean `repeat`?)\n0 runbooks, 1 problem\n');
  });

  it('names a state-changing step without repeat, exit 1', () => {
    const dir = workspace({ 'bad.yaml': `${HEADER}  - id: a\n    action: set\n    with: { x: "1" }\n  - id: restart\n    action: http\n    with: { system: api, method: POST, path: /r }\n` });
    const r = run(['validate', '.'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^bad\.yaml:12:5: steps\[1\]\.repeat: step `restart` changes state \(http POST\) but has no `repeat`/);
  });

  it('names bad CEL at its column, with every problem of every file, exit 1', () => {
    const dir = workspace({
      'a.yaml': `${HEADER}  - id: a\n    action: set\n    with: { x: "1" }\n    when: "input.x == 1 &&"\n`,
      'b.yaml': HEADER.replace('runbook: demo', 'runbook: other').replace('[demo.run]', '[other.run]') + `  - { id: a, action: set, with: { x: "result.status" } }\n`,
    });
    const r = run(['validate', 'a.yaml', 'b.yaml'], dir);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('a.yaml:12:27: steps[0].when: CEL: Unexpected token: EOF');
    expect(lines[1]).toMatch(/^b\.yaml:9:39: steps\[0\]\.with\.x: CEL: Unknown variable: result/);
    expect(lines[2]).toBe('0 runbooks, 2 problems in 2 files');
  });

  it('prints one JSON document with --json', () => {
    const dir = workspace({ 'ok.yaml': `${HEADER}  - { id: a, action: set, with: { x: "1" } }\n`, 'bad.yaml': HEADER.replace('runbook: demo', 'runbook: bad').replace('[demo.run]', '[bad.run]') + '  - { id: a, action: set, with: { x: "1" }, critical: maybe }\n' });
    const r = run(['validate', '--json', '.'], dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      runbooks: [{ id: 'demo', version: 1, file: 'ok.yaml', taskClasses: ['demo.run'] }],
      problems: [{ file: 'bad.yaml', line: 9, col: 55, path: 'steps[0].critical', message: 'expected a boolean; got "maybe"' }],
    });
    const ok = run(['validate', '--json', 'runbooks']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('runwarden schema', () => {
  it('prints the runbook JSON Schema, the committed one', () => {
    const r = run(['schema', 'runbook']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'schema', 'runbook.schema.json'), 'utf8'));
    expect(run(['schema']).stdout).toBe(r.stdout);
  });

  it('prints the task document schema, and exits 2 for an unknown name', () => {
    const task = run(['schema', 'task']);
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', required: expect.arrayContaining(['id', 'state', 'retryBudget', 'steps', 'events']) });
    const r = run(['schema', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no schema named "nope"');
  });
});

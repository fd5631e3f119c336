/**
 * runwarden as a package: `npm pack` gives a tarball that installs globally and runs from any
 * folder, with nothing of the checkout around it. The tarball is installed into a temporary
 * prefix (dependencies from npm's cache where it has them, so the test needs the registry only
 * for what was never downloaded); then, in an empty folder, `runwarden --version`, `init` and
 * `validate` (the example runbooks and the schema ship with the package), and `runwarden demo`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/cli.js';

let dir: string;
let bin: string;
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'rw-package-'));
  // dist/ is built already; the pack itself need not build again.
  npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tgz = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  expect(tgz).toBe(`runwarden-${version}.tgz`);
  npm(['install', '-g', '--prefix', join(dir, 'prefix'), '--prefer-offline', '--no-audit', '--no-fund', join(dir, tgz!)], dir);
  bin = join(dir, 'prefix', 'bin', 'runwarden');
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `runwarden ...` from the installed package, in `cwd`, with no runwarden settings of this machine. */
function run(args: string[], cwd: string) {
  const env: NodeJS.ProcessEnv = { PATH: `${join(dir, 'prefix', 'bin')}:${process.env.PATH ?? ''}`, HOME: dir, NO_COLOR: '1', RUNWARDEN_LOG_LEVEL: 'warn' };
  return spawnSync(bin, args, { cwd, encoding: 'utf8', env });
}

it('installs globally and runs init, validate and the demo from an empty folder', async () => {
  expect(existsSync(bin)).toBe(true);
  const folder = await mkdtemp(join(dir, 'anywhere-'));
  expect(run(['--version'], folder).stdout).toBe(`${version}\n`);
  const init = run(['init'], folder);
  expect(init.status, init.stderr).toBe(0);
  const validate = run(['validate'], folder);
  expect(validate.status, validate.stderr).toBe(0);
  expect(validate.stdout).toBe('3 runbooks, 0 problems\n');
  const demo = run(['demo'], folder);
  expect(demo.status, demo.stderr).toBe(0);
  expect(demo.stdout).toContain('The packet the unhealthy restart handed over');
  expect(demo.stdout).toMatch(/runwarden approve tsk_\S+ --operator you/);
  expect(existsSync(join(folder, '.runwarden', 'db', 'PG_VERSION'))).toBe(true);
}, 180_000);

/**
 * What a command costs before it does anything: each command is run as a user runs it (a new
 * process of bin/runwarden), a warm-up and then N timed runs, hyperfine-style, reporting the
 * mean, median, min and max wall time against its target and as a ratio of the time a bare
 * `node` takes to start on this machine now (the baseline, measured in the same run).
 *
 *   npm run bench:startup                       # 10 runs each
 *   npm run bench:startup -- --runs 20
 *   npm run bench:startup -- --compare /path/to/other/checkout   # the same commands, both builds
 *
 * `show` and `tasks` run against a fresh PostgreSQL database (RUNWARDEN_TEST_PG, default
 * postgres://postgres@127.0.0.1:5432/postgres) holding one task, and against a fresh embedded
 * database. Figures are for orientation on a shared machine: they are not pass/fail thresholds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dropPostgres, freshPostgres } from './pg.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, compare: { type: 'string' } } });
const RUNS = Number(values.runs);

interface Stats {
  mean: number;
  median: number;
  min: number;
  max: number;
}

/** Wall time of `node <args>` in ms, a warm-up first, then RUNS runs. Fails on a non-zero exit. */
function time(args: string[], cwd: string): Stats {
  const once = () => {
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', RUNWARDEN_LOG_LEVEL: 'warn' } });
    const ms = performance.now() - started;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return ms;
  };
  once();
  const ms = Array.from({ length: RUNS }, once).sort((a, b) => a - b);
  return { mean: ms.reduce((a, b) => a + b, 0) / ms.length, median: ms[Math.floor(ms.length / 2)]!, min: ms[0]!, max: ms[ms.length - 1]! };
}


/** Puts one task in the database through the CLI of this checkout, as a user would. */
function seed(target: string, cwd: string): void {
  const request = JSON.stringify({ taskClass: 'service.restart', externalRef: 'BENCH-1', input: { service: 'billing-api', environment: 'staging' } });
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/runwarden'), 'submit', '-', '--db', target, '--runbooks', join(ROOT, 'runbooks')], { cwd, input: request, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`seeding ${target} failed: ${r.stderr}`);
}

const cwd = await mkdtemp(join(tmpdir(), 'rw-bench-startup-'));
const embedded = join(cwd, 'db');
const pgUrl = await freshPostgres(`rw_bench_startup_${process.pid}`);
seed(embedded, cwd);
if (pgUrl) seed(pgUrl, cwd);

const runbooks = join(ROOT, 'runbooks');
const cases: Array<{ name: string; args: string[]; target?: number }> = [
  { name: '--version', args: ['--version'], target: 150 },
  { name: 'validate runbooks/', args: ['validate', runbooks], target: 500 },
  { name: 'schema runbook', args: ['schema', 'runbook'] },
  ...(pgUrl
    ? [
        { name: 'show (PostgreSQL)', args: ['show', 'BENCH-1', '--db', pgUrl, '--runbooks', runbooks], target: 400 },
        { name: 'tasks (PostgreSQL)', args: ['tasks', '--db', pgUrl], target: 400 },
      ]
    : []),
  { name: 'show (embedded)', args: ['show', 'BENCH-1', '--db', embedded, '--runbooks', runbooks] },
  { name: 'tasks (embedded)', args: ['tasks', '--db', embedded] },
];

const builds: Array<[string, string]> = [['this', join(ROOT, 'bin/runwarden')]];
if (values.compare) builds.push(['compare', join(resolve(values.compare), 'bin/runwarden')]);

try {
  const bare = time(['-e', ''], cwd);
  console.log(`runwarden start-up: ${RUNS} runs each after a warm-up; baseline: bare node starts in ${bare.median.toFixed(0)} ms (median)`);
  for (const c of cases) {
    const parts: string[] = [];
    for (const [label, bin] of builds) {
      const s = time([bin, ...c.args], cwd);
      const verdict = c.target === undefined ? '' : s.median <= c.target ? ` (target ${c.target}: met)` : ` (target ${c.target}: MISSED)`;
      parts.push(
        `${builds.length > 1 ? `${label}: ` : ''}median ${s.median.toFixed(0)} ms, mean ${s.mean.toFixed(0)}, min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)}, ${(s.median / bare.median).toFixed(1)}x bare node${verdict}`,
      );
    }
    console.log(`  ${c.name.padEnd(20)} ${parts.join('\n  '.padEnd(24))}`);
  }
  if (!pgUrl) console.log('  PostgreSQL not reachable: show and tasks on it skipped');
} finally {
  if (pgUrl) await dropPostgres(pgUrl);
  await rm(cwd, { recursive: true, force: true });
}

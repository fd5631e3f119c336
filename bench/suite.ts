/**
 * The bench suite: runwarden against the raw limit and its peers, on local PostgreSQL and on the
 * embedded database, in one process and one run (docs/benchmarks.md).
 *
 *   npm run bench:suite                               # the full suite (5,000 tasks, 3 rounds)
 *   npm run bench:suite -- --tasks 1000 --rounds 3    # shorter
 *   npm run bench:suite -- --no-peers --scale 1000 --backends embedded
 *
 * Results are appended as JSON lines to bench/results/<run>.jsonl; `npm run bench:summary`
 * turns the newest runs into docs/benchmarks.md and its chart. Run it with `nice` on a shared
 * machine, and read the ratios, not the absolute figures.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSuite } from './suite/index.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16' },
    backends: { type: 'string', default: 'postgres,embedded' },
    'no-peers': { type: 'boolean', default: false },
    scale: { type: 'string', default: '1000,1000000' },
    rss: { type: 'string', default: '100000' },
    'raw-ms': { type: 'string', default: '3000' },
    submits: { type: 'string', default: '200' },
    label: { type: 'string', default: '' },
  },
});

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a checkout
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const run = `${stamp}_${commit}${values.label ? `_${values.label}` : ''}`;
const resultsFile = fileURLToPath(new URL(`./results/${run}.jsonl`, import.meta.url));
const opts = {
  tasks: Number(values.tasks),
  rounds: Number(values.rounds),
  concurrency: list(values.concurrency).map(Number),
  backends: list(values.backends) as Array<'postgres' | 'embedded'>,
  peers: !values['no-peers'],
  scale: list(values.scale).map(Number),
  rssQueued: Number(values.rss),
  rawMs: Number(values['raw-ms']),
  submits: Number(values.submits),
  resultsFile,
  run,
  progress: (line: string) => console.log(line),
};
for (const [k, v] of Object.entries({ tasks: opts.tasks, rounds: opts.rounds })) if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a whole number of at least 1, not ${String(v)}`);
console.log(`runwarden bench suite ${run}: ${opts.tasks} tasks, ${opts.rounds} rounds, concurrency ${opts.concurrency.join('/')}, ${opts.backends.join(' + ')}${opts.peers ? ', with DBOS and graphile-worker' : ''}`);
await runSuite(opts);
console.log(`results: ${resultsFile}`);

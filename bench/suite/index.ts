/**
 * The bench suite as a function: what `npm run bench:suite` runs, and what the smoke test runs
 * with small figures. Every measurement is appended to `resultsFile` as a JSON line as soon as
 * it is taken, so a run cut short keeps what it measured.
 *
 * Rounds are interleaved: each round measures every subject once, in an order rotated from
 * the round before, so a neighbour loading the machine for a while hurts all subjects alike
 * and the same-round ratios hold even when the absolute figures swing.
 */
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openDb, type Db } from '../../src/store/db.js';
import { dropPostgres, freshPostgres } from '../pg.js';
import { CLASSES, clearTasks, seedTasks, type Sample } from './common.js';
import { startDbos, startGraphile, type Dbos, type Graphile } from './peers.js';
import { rawTransitions } from './raw.js';
import { runTasks, submitLatency } from './runwarden.js';
import { measureScale, seedScale, workerRss } from './scale.js';

export interface SuiteOptions {
  tasks: number;
  rounds: number;
  concurrency: number[];
  backends: Array<'postgres' | 'embedded'>;
  peers: boolean;
  /** Table sizes for the claim and listing figures; empty for none. */
  scale: number[];
  /** Tasks queued for the worker-RSS figure; 0 for none. */
  rssQueued: number;
  /** How long each raw-transition measurement runs (ms). */
  rawMs: number;
  /** Submissions for the submit-to-first-action figure. */
  submits: number;
  resultsFile: string;
  run: string;
  progress: (line: string) => void;
}

interface Backend {
  name: 'postgres' | 'embedded';
  db: Db;
  target: string;
  close(): Promise<void>;
}

async function openBackend(name: Backend['name'], scratch: string, tag: string): Promise<Backend | undefined> {
  if (name === 'postgres') {
    const url = await freshPostgres(`rw_suite_${tag}_${process.pid}`);
    if (!url) return undefined;
    const db = await openDb(url, { poolSize: 20 });
    return { name, db, target: url, close: async () => (await db.close(), await dropPostgres(url)) };
  }
  const dir = join(await mkdtemp(join(scratch, `${tag}-`)), 'db');
  const db = await openDb(dir, { poolSize: 20 });
  return { name, db, target: dir, close: () => db.close() };
}

function rotate<T>(list: T[], by: number): T[] {
  const k = by % Math.max(1, list.length);
  return [...list.slice(k), ...list.slice(0, k)];
}

export async function runSuite(o: SuiteOptions): Promise<Sample[]> {
  const samples: Sample[] = [];
  await mkdir(dirname(o.resultsFile), { recursive: true });
  const emit = async (s: Omit<Sample, 'run'>) => {
    const full = { run: o.run, ...s };
    samples.push(full);
    await appendFile(o.resultsFile, `${JSON.stringify(full)}\n`);
  };
  const scratch = await mkdtemp(join(tmpdir(), 'rw-suite-'));
  const backends: Backend[] = [];
  let dbos: Dbos | undefined;
  let graphile: Graphile | undefined;
  const peerUrls: string[] = [];
  try {
    for (const name of o.backends) {
      const b = await openBackend(name, scratch, 'tp');
      if (b) backends.push(b);
      else o.progress(`  ${name}: not reachable; skipped`);
    }
    if (o.peers) {
      const dbosUrl = await freshPostgres(`rw_suite_dbos_${process.pid}`);
      const gwUrl = await freshPostgres(`rw_suite_gw_${process.pid}`);
      if (dbosUrl && gwUrl) {
        peerUrls.push(dbosUrl, gwUrl);
        dbos = await startDbos(dbosUrl, Math.max(10, Math.max(...o.concurrency) + 4));
        graphile = await startGraphile(gwUrl);
      } else o.progress('  peers: PostgreSQL not reachable; skipped');
    }
    type Job = { label: string; go: (round: number) => Promise<void> };
    const jobs: Job[] = [];
    for (const c of o.concurrency) {
      for (const b of backends) {
        for (const steps of [1, 3] as const) {
          jobs.push({
            label: `${b.name} runwarden ${steps}-step c${c}`,
            go: async (round) => {
              const r = await runTasks(b.db, steps, o.tasks, c, { overhead: c === 1 && steps === 3 });
              if (r.completed !== o.tasks) throw new Error(`${b.name}: ${r.completed} of ${o.tasks} ${steps}-step tasks completed`);
              const subject = `rw-${steps}step`;
              await emit({ round, backend: b.name, subject, concurrency: c, metric: 'tasks_per_s', value: r.tasksPerS, detail: { tasks: r.tasks, ms: r.ms } });
              await emit({ round, backend: b.name, subject, concurrency: c, metric: 'steps_per_s', value: r.stepsPerS });
              if (r.overhead) {
                await emit({ round, backend: b.name, subject: 'overhead', concurrency: c, metric: 'p50_ms', value: r.overhead.p50, detail: { samples: r.overhead.samples } });
                await emit({ round, backend: b.name, subject: 'overhead', concurrency: c, metric: 'p99_ms', value: r.overhead.p99 });
              }
              o.progress(`  r${round} ${b.name.padEnd(8)} runwarden ${steps}-step c${String(c).padEnd(2)} ${r.tasksPerS.toFixed(0)} tasks/s ${r.stepsPerS.toFixed(0)} steps/s${r.overhead ? `, overhead p50 ${r.overhead.p50.toFixed(2)} ms p99 ${r.overhead.p99.toFixed(2)} ms` : ''}`);
            },
          });
        }
        jobs.push({
          label: `${b.name} raw c${c}`,
          go: async (round) => {
            const perS = await rawTransitions(b.db, c, o.rawMs);
            await emit({ round, backend: b.name, subject: 'raw', concurrency: c, metric: 'transitions_per_s', value: perS });
            o.progress(`  r${round} ${b.name.padEnd(8)} raw transitions c${String(c).padEnd(2)} ${perS.toFixed(0)}/s`);
          },
        });
      }
      if (dbos) {
        const d = dbos;
        jobs.push({
          label: `dbos c${c}`,
          go: async (round) => {
            const r = await d.run(o.tasks, c);
            await emit({ round, backend: 'postgres', subject: 'dbos-3step', concurrency: c, metric: 'tasks_per_s', value: r.perS });
            o.progress(`  r${round} postgres DBOS 3-step c${String(c).padEnd(2)}      ${r.perS.toFixed(0)} workflows/s`);
          },
        });
      }
      if (graphile) {
        const g = graphile;
        for (const batched of [false, true]) {
          jobs.push({
            label: `graphile c${c}${batched ? ' batched' : ''}`,
            go: async (round) => {
              const r = await g.run(o.tasks, c, batched);
              await emit({ round, backend: 'postgres', subject: batched ? 'graphile-1job-batched' : 'graphile-1job', concurrency: c, metric: 'tasks_per_s', value: r.perS });
              o.progress(`  r${round} postgres graphile-worker${batched ? ' batched' : ''} c${String(c).padEnd(2)} ${r.perS.toFixed(0)} jobs/s`);
            },
          });
        }
      }
    }
    for (const b of backends) {
      jobs.push({
        label: `${b.name} submit latency`,
        go: async (round) => {
          const r = await submitLatency(b.db, o.submits);
          await emit({ round, backend: b.name, subject: 'submit-latency', metric: 'p50_ms', value: r.p50 });
          await emit({ round, backend: b.name, subject: 'submit-latency', metric: 'p99_ms', value: r.p99, detail: { max: r.max, samples: o.submits } });
          o.progress(`  r${round} ${b.name.padEnd(8)} submit to first action p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms (max ${r.max.toFixed(0)})`);
        },
      });
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const job of rotate(jobs, round - 1)) await job.go(round);
    }
    // Scale figures once: seeding a million rows is the slow part, not the measurement.
    for (const b of backends) {
      for (const size of o.scale) {
        o.progress(`  ${b.name}: seeding ${size.toLocaleString('en')} tasks`);
        const queued = await seedScale(b.db, size, o.progress);
        const r = await measureScale(b.db, size, queued);
        for (const [subject, m] of [['claim', r.claim], ['list-escalated', r.listEscalated], ['list-all', r.listAll]] as const) {
          await emit({ round: 0, backend: b.name, subject, metric: 'p50_ms', value: m.p50, detail: { size, queued, plan: m.plan } });
          await emit({ round: 0, backend: b.name, subject, metric: 'p99_ms', value: m.p99, detail: { size, queued } });
        }
        o.progress(`  ${b.name.padEnd(8)} ${size.toLocaleString('en').padStart(9)} tasks: claim p50 ${r.claim.p50.toFixed(2)} ms, tasks --state escalated p50 ${r.listEscalated.p50.toFixed(2)} ms, tasks (no filter) p50 ${r.listAll.p50.toFixed(2)} ms`);
      }
      if (o.rssQueued > 0) {
        await clearTasks(b.db);
        await seedTasks(b.db, CLASSES[1], o.rssQueued, { events: false });
        const r = await workerRss(b.target, 5000);
        await emit({ round: 0, backend: b.name, subject: 'rss', metric: 'rss_mb', value: r.peakMb, detail: { queued: o.rssQueued, completedIn5s: r.completed } });
        o.progress(`  ${b.name.padEnd(8)} worker RSS with ${o.rssQueued.toLocaleString('en')} queued: ${r.peakMb.toFixed(0)} MB peak (${r.completed} tasks done in 5 s)`);
      }
    }
  } finally {
    await dbos?.close().catch(() => undefined);
    await graphile?.close().catch(() => undefined);
    for (const u of peerUrls) await dropPostgres(u).catch(() => undefined);
    for (const b of backends) await b.close().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
  return samples;
}

/**
 * Scale: claim latency and `tasks --state escalated` latency with a table of `size` tasks,
 * mostly finished (98% completed, 1% escalated, 1% queued, at least 100 queued), with the query
 * plans PostgreSQL chose; and the worker's resident memory with 100,000 queued (measured in a
 * child process, so this process's own memory is not counted).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { claimTasks } from '../../src/store/claim.js';
import type { Db } from '../../src/store/db.js';
import { listTasks } from '../../src/store/tasks.js';
import { CLASSES, clearTasks, percentile, seedTasks } from './common.js';

/** A Db that remembers the last statement it ran, so its plan can be asked for. */
function recording(db: Db): { db: Db; last: () => { text: string; params: unknown[] } } {
  let last = { text: '', params: [] as unknown[] };
  const wrapped: Db = {
    ...db,
    kind: db.kind,
    target: db.target,
    query: (text, params = [], o) => {
      last = { text, params };
      return db.query(text, params, o);
    },
  };
  return { db: wrapped, last: () => last };
}

async function plan(db: Db, stmt: { text: string; params: unknown[] }): Promise<string> {
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${stmt.text}`, stmt.params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

export interface ScaleResult {
  size: number;
  queued: number;
  claim: { p50: number; p99: number; plan: string };
  listEscalated: { p50: number; p99: number; plan: string };
  listAll: { p50: number; p99: number; plan: string };
}

export async function seedScale(db: Db, size: number, progress: (line: string) => void): Promise<number> {
  await clearTasks(db);
  const queued = Math.max(100, Math.floor(size * 0.01));
  const escalated = Math.floor(size * 0.01);
  const chunk = 100_000;
  for (let done = 0, left = size - queued - escalated; left > 0; ) {
    const n = Math.min(chunk, left);
    await seedTasks(db, CLASSES[1], n, { state: 'completed', prefix: `c${done}`, events: false });
    done += n;
    left -= n;
    if (size >= 200_000) progress(`    seeded ${done.toLocaleString('en')} finished tasks`);
  }
  await seedTasks(db, CLASSES[1], escalated, { state: 'escalated', prefix: 'e', events: false });
  await seedTasks(db, CLASSES[1], queued, { prefix: 'q', events: false });
  await db.query('ANALYZE tasks');
  return queued;
}

export async function measureScale(db: Db, size: number, queued: number, samples = 40): Promise<ScaleResult> {
  const rec = recording(db);
  const claimMs: number[] = [];
  for (let i = 0; i < Math.min(samples, queued); i++) {
    const t0 = performance.now();
    const got = await claimTasks(rec.db, { workerId: 'wrk_bench', now: new Date(), leaseMs: 30_000, limit: 1 });
    claimMs.push(performance.now() - t0);
    if (got.length !== 1) throw new Error('the claim found nothing in a backlog');
  }
  const claimPlan = await plan(db, rec.last());
  const list = async (f: Parameters<typeof listTasks>[1]) => {
    const ms: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await listTasks(rec.db, f);
      ms.push(performance.now() - t0);
    }
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), plan: await plan(db, rec.last()) };
  };
  return {
    size,
    queued,
    claim: { p50: percentile(claimMs, 50), p99: percentile(claimMs, 99), plan: claimPlan },
    listEscalated: await list({ state: 'escalated' }),
    listAll: await list({}),
  };
}

/** Peak RSS (MB) of a worker process started against `target` with what is queued there, over `ms`. */
export function workerRss(target: string, ms: number): Promise<{ peakMb: number; completed: number }> {
  const child = fileURLToPath(new URL('./rss-child.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, target, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`rss child exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (err) {
        reject(err);
      }
    });
  });
}

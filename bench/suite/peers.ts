/**
 * The peers, in the same process and run, on the same PostgreSQL server (each in a database of
 * its own), tuned as their documentation recommends:
 *
 * - DBOS Transact: a workflow of three no-op steps; `concurrency` callers each running
 *   workflows one after another (each step's outcome is checkpointed, as runwarden's are).
 *   System database pool sized for the callers (DBOS docs: "systemDatabasePoolSize").
 * - graphile-worker: one no-op job per task, `concurrentJobs` = concurrency, pool
 *   `max(10, concurrency + 2)` (its docs); once with its defaults and once with the batching its
 *   performance page describes (a local queue and batched completion).
 *
 * Both are devDependencies of runwarden, used only here.
 */
import pg from 'pg';
import { percentile } from './common.js';

type DbosModule = typeof import('@dbos-inc/dbos-sdk');

export interface Dbos {
  run(n: number, concurrency: number): Promise<{ perS: number; completed: number }>;
  close(): Promise<void>;
}

/** Launches DBOS once for the process (it is a singleton) on `url`. */
export async function startDbos(url: string, poolSize: number): Promise<Dbos> {
  const { DBOS } = (await import('@dbos-inc/dbos-sdk')) as DbosModule;
  DBOS.setConfig({ name: 'rwbench', systemDatabaseUrl: url, systemDatabasePoolSize: poolSize, logLevel: 'error' });
  const step = async (): Promise<number> => 1;
  const s1 = DBOS.registerStep(step, { name: 's1' });
  const s2 = DBOS.registerStep(step, { name: 's2' });
  const s3 = DBOS.registerStep(step, { name: 's3' });
  const wf = DBOS.registerWorkflow(
    async (): Promise<number> => (await s1()) + (await s2()) + (await s3()),
    { name: 'three' },
  );
  await DBOS.launch();
  return {
    async run(n, concurrency) {
      let next = 0;
      let completed = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            next++;
            if ((await wf()) === 3) completed++;
          }
        }),
      );
      return { perS: (completed / (performance.now() - started)) * 1000, completed };
    },
    close: () => DBOS.shutdown(),
  };
}

export interface Graphile {
  run(n: number, concurrency: number, batched: boolean): Promise<{ perS: number; completed: number }>;
  close(): Promise<void>;
}

export async function startGraphile(url: string): Promise<Graphile> {
  const gw = await import('graphile-worker');
  await gw.runMigrations({ connectionString: url, logger: quietLogger(gw) });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const utils = await gw.makeWorkerUtils({ connectionString: url, logger: quietLogger(gw) });
  return {
    async run(n, concurrency, batched) {
      await admin.query('DELETE FROM graphile_worker._private_jobs');
      // Added with its bulk API (addJobs), a thousand at a time.
      for (let i = 0; i < n; i += 1000) await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, () => ({ identifier: 'noop', payload: {} })));
      let completed = 0;
      const started = performance.now();
      const runner = await gw.run({
        connectionString: url,
        concurrency,
        maxPoolSize: Math.max(10, concurrency + 2),
        noHandleSignals: true,
        pollInterval: 1000,
        logger: quietLogger(gw),
        taskList: {
          noop: async () => {
            completed++;
          },
        },
        ...(batched ? { preset: { worker: { localQueue: { size: Math.max(concurrency * 4, 64) }, completeJobBatchDelay: 0 } } } : {}),
      });
      for (;;) {
        const [r] = (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker._private_jobs')).rows;
        if (Number(r?.n) === 0) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      const ms = performance.now() - started;
      await runner.stop();
      return { perS: (n / ms) * 1000, completed };
    },
    async close() {
      await utils.release();
      await admin.end();
    },
  };
}

function quietLogger(gw: typeof import('graphile-worker')): InstanceType<typeof gw.Logger> {
  return new gw.Logger(() => (level: string, message: string) => {
    if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
  });
}

export { percentile };

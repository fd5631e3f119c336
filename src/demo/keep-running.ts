/**
 * `runwarden demo --keep`: after the demo's own run, a worker set up as the demo's (same
 * in-memory deployment config, escalation hooks and outbox delivery) keeps carrying tasks until
 * Ctrl-C or SIGTERM, so an operator action taken in another terminal (approve, resume, a new
 * submit) visibly continues, one progress line per state change.
 *
 * The worker holds the database and wakes on the NOTIFY an action sends. On the embedded
 * database the demo's process is the directory's owner and serves it to the commands of the
 * other terminal (store/embedded/open.ts), as PostgreSQL serves every process.
 */
import type { Logger } from '../log.js';
import type { Service } from '../service.js';
import type { Db } from '../store/db.js';

export interface KeepRunningOptions {
  /** The demo's database, open. keepRunning closes it. */
  db: Db;
  /** A new worker on `db`, set up as the demo's own (the composition root's: the scheduler runs with `run`). */
  worker(db: Db): Runner;
  /** Reads the ledger through `db` and prints what changed since the last call. */
  refresh(db: Db): Promise<void>;
  /** Called once: the worker is waiting and other processes can reach the database. */
  ready(): void;
  /** Ctrl-C / SIGTERM: the worker stops gracefully, then the database closes. */
  signal: AbortSignal;
  logger: Logger;
  /** How often the ledger is read, in ms. Default 200. */
  pollMs?: number;
}

/** What keepRunning drives: a service (service.ts), or a bare worker. */
export type Runner = Pick<Service, 'run' | 'runUntilIdle' | 'stop'>;

/** Keeps a worker carrying tasks until `signal` aborts; resolves once everything is stopped and closed. */
export async function keepRunning(o: KeepRunningOptions): Promise<void> {
  try {
    await drive(o, o.db, (worker) => {
      const running = worker.run();
      o.ready();
      return running;
    });
  } finally {
    await o.db.close();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `work` on a new worker with the progress view reading the ledger beside it, then reads it
 * one last time. An abort stops the worker gracefully: tasks in flight record their attempt and
 * are handed back, nothing half-recorded.
 */
async function drive(o: KeepRunningOptions, db: Db, work: (worker: Runner) => Promise<unknown>): Promise<void> {
  const worker = o.worker(db);
  const stop = () => void worker.stop();
  if (o.signal.aborted) return;
  o.signal.addEventListener('abort', stop, { once: true });
  const every = o.pollMs ?? 200;
  let polling = true;
  const view = (async () => {
    while (polling && !o.signal.aborted) {
      // A failed read costs a line's timeliness, never the worker: the next read catches up.
      await o.refresh(db).catch((err: unknown) => o.logger.warn({ err }, 'progress view could not read the ledger'));
      await pause(every, o.signal);
    }
  })();
  try {
    await work(worker);
  } finally {
    polling = false;
    await view;
    o.signal.removeEventListener('abort', stop);
  }
  await o.refresh(db);
}

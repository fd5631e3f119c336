/**
 * `runwarden demo --keep`: after the demo's own run, a worker set up as the demo's (same
 * in-memory deployment config, escalation hooks and outbox delivery) keeps carrying tasks until
 * Ctrl-C or SIGTERM, so an operator action taken in another terminal (approve, resume, a new
 * submit) visibly continues, one progress line per state change.
 *
 * PostgreSQL serves many processes: the worker holds the database and wakes on the NOTIFY an
 * action sends. The embedded database serves one process at a time (data-dir-lock.ts), and a
 * command in the other terminal must be able to open it. So there the demo holds it only while
 * it has work: it closes the database, watches the directory's stamp (data-dir-stamp.ts), and
 * when another process has been in, opens it again through the same lock, works until idle and
 * closes it again.
 *
 * Why visits and not a socket the other terminal's commands talk to: every write still goes
 * through the one lock every process takes, exactly as when commands run one after another, so
 * nothing new can lose a write; a control socket would be a second way into the database for the
 * demo alone. Why not re-open on a timer instead of on the stamp: each re-open takes the lock, and
 * a command typed at that moment would be refused for nothing.
 */
import { isRunwardenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Worker } from '../orchestrator/worker.js';
import { dataDirStamp } from '../store/data-dir-stamp.js';
import { MEMORY_TARGET, type Db } from '../store/db.js';

export interface KeepRunningOptions {
  /** The demo's database, open. keepRunning closes it, and every handle it opens itself. */
  db: Db;
  /** Opens the same database again (used on an embedded database directory only). */
  reopen(): Promise<Db>;
  /** A new worker on `db`, set up as the demo's own. */
  worker(db: Db): Worker;
  /** Reads the ledger through `db` and prints what changed since the last call. */
  refresh(db: Db): Promise<void>;
  /** Called once: the worker is waiting and other processes can reach the database. */
  ready(): void;
  /** Ctrl-C / SIGTERM: the worker stops gracefully, then the database closes. */
  signal: AbortSignal;
  logger: Logger;
  /** How often the ledger (or, while the database is let go, the directory's stamp) is read, in ms. Default 200. */
  pollMs?: number;
  /** Embedded database: how long its stamp must hold still after another process was in before the demo opens it, in ms. Default 600. */
  quietMs?: number;
}

/**
 * True when `--keep` lets go of the database between visits: an embedded database directory.
 * PostgreSQL serves every process at once, and an in-memory database would be lost on close (no
 * other process can reach it anyway).
 */
export function releasesBetweenVisits(db: Db): boolean {
  return db.kind === 'pglite' && db.target !== MEMORY_TARGET;
}

/** Keeps a worker carrying tasks until `signal` aborts; resolves once everything is stopped and closed. */
export async function keepRunning(o: KeepRunningOptions): Promise<void> {
  if (releasesBetweenVisits(o.db)) await visiting(o);
  else await holding(o);
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
async function drive(o: KeepRunningOptions, db: Db, work: (worker: Worker) => Promise<unknown>): Promise<void> {
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

/** PostgreSQL (or memory): one worker holds the database until the signal. */
async function holding(o: KeepRunningOptions): Promise<void> {
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

/** An embedded database directory: let it go, and visit it whenever another process has been in. */
async function visiting(o: KeepRunningOptions): Promise<void> {
  const dir = o.db.target;
  await o.db.close();
  // Taken after our own close, the last write we make: any later change is another process's.
  let stamp = await dataDirStamp(dir);
  let last = { stamp, since: Date.now() };
  o.ready();
  while (!o.signal.aborted) {
    await pause(o.pollMs ?? 200, o.signal);
    if (o.signal.aborted) break;
    const now = await dataDirStamp(dir);
    if (now !== last.stamp) last = { stamp: now, since: Date.now() };
    // Commands typed or chained one after another (takeover, then resume) each open the database
    // anew: going in only once it has been quiet a moment leaves the gap between them to them.
    if (now === stamp || Date.now() - last.since < (o.quietMs ?? 600)) continue;
    let db: Db;
    try {
      db = await o.reopen();
    } catch (err) {
      // The other process still has it open: the stamp stays unmatched, so we look again.
      if (isRunwardenError(err) && err.code === 'DATABASE_UNAVAILABLE' && err.details.lock !== undefined) continue;
      throw err;
    }
    try {
      // Until idle, retries due in a few seconds included; then the directory is free again.
      await drive(o, db, (worker) => worker.runUntilIdle());
    } finally {
      await db.close();
      stamp = await dataDirStamp(dir);
      last = { stamp, since: Date.now() };
    }
  }
}

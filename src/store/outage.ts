/**
 * Living through database outages: a PostgreSQL restart, failover or network cut must cost
 * waiting, never a crashed process or a page.
 *
 * - `watchPool` / `watchClient` put an 'error' handler on a node-postgres pool, on every client
 *   it creates (a checked-out client has no handler of the pool's, and an unhandled 'error'
 *   event ends the process) and on a stand-alone client (LISTEN). They work for any pg.Pool and
 *   pg.Client, whatever server is behind them.
 * - `OutageLog` says so once when an outage starts and once when the database answers again,
 *   however many queries fail in between, so the log shows outages, not retries.
 * - `reconnectDelay` is the backoff every retry loop uses: exponential with jitter, so workers
 *   that lost the database together do not come back in lockstep.
 */
import type pg from 'pg';
import { isRunwardenError } from '../errors.js';
import type { Logger } from '../log.js';

/** True for RunwardenError('DATABASE_UNAVAILABLE'): the database is away, waiting can help. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return isRunwardenError(err) && err.code === 'DATABASE_UNAVAILABLE';
}

/** Shortest and longest wait between tries while the database is away (ms). */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5_000;

/**
 * The wait before try `n` (0-based) of a retry loop: 100 ms doubling up to 5 s, each drawn
 * between half and all of that ("equal jitter"), so it never collapses to zero.
 */
export function reconnectDelay(n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(n, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One line when the database goes away, one when it is back. */
export class OutageLog {
  private since: number | null = null;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    /** The database, as logs may name it (no password). */
    private readonly target: string,
  ) {}

  /** True between the first failure and the next success. */
  get down(): boolean {
    return this.since !== null;
  }

  /** A connection-level failure: logged when it starts an outage, counted otherwise. */
  failed(err: unknown): void {
    this.failures += 1;
    if (this.since !== null) return;
    this.since = Date.now();
    this.logger.warn(
      { target: this.target, err: { message: (err as Error)?.message, code: (err as { code?: unknown })?.code } },
      'database unavailable; work waits and retries until it is back',
    );
  }

  /** Something reached the database: ends an outage if one was going on. */
  succeeded(): void {
    if (this.since === null) return;
    const downMs = Date.now() - this.since;
    const failures = this.failures;
    this.since = null;
    this.failures = 0;
    this.logger.info({ target: this.target, downMs, failedCalls: failures }, 'database available again');
  }
}

/** Handles 'error' on a stand-alone client (its query or connect call fails too, and is mapped there). */
export function watchClient(client: pg.Client | pg.PoolClient, outage: OutageLog): void {
  client.on('error', (err) => outage.failed(err));
}

/**
 * Handles 'error' on the pool (an idle client lost its connection) and on every client the pool
 * creates, for the time it is checked out.
 */
export function watchPool(pool: pg.Pool, outage: OutageLog): void {
  pool.on('error', (err) => outage.failed(err));
  pool.on('connect', (client) => watchClient(client, outage));
}

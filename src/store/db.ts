/**
 * The database handle: PostgreSQL, or the embedded PGlite, behind one small interface so every
 * query in `src/store` runs unchanged on both. Both go through node-postgres: PostgreSQL by its
 * URL, the embedded database through the process that owns its directory (embedded/open.ts),
 * which speaks the same wire protocol. One driver, one set of types and behaviours (prepared
 * statement names, LISTEN, transactions). Migrations (drizzle-kit, in `drizzle/`) apply on open.
 *
 * Columns come back as the same JavaScript types (`timestamptz` -> Date, `jsonb` -> parsed
 * value, `int8` -> number), so row mappers need no per-backend branches.
 */
import { fileURLToPath } from 'node:url';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { isRunwardenError, RunwardenError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { displayPath, openEmbedded } from './embedded/open.js';
import { Listener } from './listener.js';
import { OutageLog, pause, reconnectDelay, watchClient, watchPool } from './outage.js';

export interface Db {
  readonly kind: 'pglite' | 'postgres';
  /** Where it is: a PostgreSQL URL, a PGlite directory (absolute), or `memory://`. */
  readonly target: string;
  /** Raw SQL with $1.. params; `name` makes it a prepared statement where the driver supports it. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[], opts?: { name?: string }): Promise<T[]>;
  /**
   * Runs fn in one transaction: committed when fn resolves, rolled back (then rethrown) when it
   * rejects. Inside, use the `tx` handle only: a nested `transaction` joins the outer one, and
   * on PGlite (one transaction at a time) a query on the outer handle would wait for the
   * transaction until the embedded database ends it as idle (30s).
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * LISTEN (one dedicated connection per Db, shared by every channel). Returns an unlisten.
   * `onState` is told false when the listening connection is lost (notifications are missed
   * until it is back) and true when it listens again.
   */
  listen(channel: string, onNotify: (payload: string) => void, onState?: (up: boolean) => void): Promise<() => Promise<void>>;
  /** NOTIFY; inside a transaction it is delivered at commit, and not at all after a rollback. */
  notify(channel: string, payload: string): Promise<void>;
  /** Closes the database (idempotent). On a transaction handle it is a bug and throws. */
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** Default: silent. */
  logger?: Logger;
  /** Apply pending migrations on open. Default true. */
  migrate?: boolean;
  /** Connection pool size. Default 10. */
  poolSize?: number;
  /**
   * Where to say what opening the embedded database is doing when it takes a while (creating it
   * on first use, waiting for another process that is opening it). Default: stderr, when stderr
   * is a terminal.
   */
  notice?: (line: string) => void;
  /**
   * PostgreSQL: when the server cannot be reached, wait for it (backing off, saying so once)
   * instead of failing with DATABASE_UNAVAILABLE, until it answers or `signal` aborts (then the
   * last error is thrown). For long-lived processes (`work`, `serve`). Default: fail at once.
   */
  waitForDatabase?: { signal?: AbortSignal };
}

/** The default `notice`: a line on stderr for a person at a terminal, nothing in pipes and logs. */
function terminalNotice(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${line}\n`);
}

/** The committed migrations, in the package root beside `src/` and `dist/` (never cwd). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Serialises migrators across processes on one PostgreSQL server ('rwm'). */
const MIGRATION_LOCK = 0x72776d;

/** The target of an in-memory PGlite (tests, throwaway runs). */
export const MEMORY_TARGET = 'memory://';

/** True for `postgres://` and `postgresql://` targets. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** The target without credentials, for messages and logs. */
export function describeTarget(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const u = new URL(target);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * What a database keeps when things go wrong, in a sentence for a start-up line (`runwarden
 * work`): the embedded database flushes every commit to disk (embedded/durability.ts).
 */
export function durabilityNote(db: Pick<Db, 'kind' | 'target'>): string {
  if (db.kind === 'postgres') return `PostgreSQL at ${describeTarget(db.target)}: committed work is as durable as the server's settings make it`;
  if (db.target === MEMORY_TARGET) return 'an in-memory database: nothing survives this process';
  return (
    `the embedded database in ${displayPath(db.target)}: each commit is on disk before it returns, so committed work survives ` +
    'a crash of any process and a power loss; it serves the processes of this machine, one transaction at a time ' +
    '(for workers on several machines or more throughput, use PostgreSQL: --db postgres://...)'
  );
}

/**
 * Opens a database: `postgres://` or `postgresql://` is a node-postgres pool; `memory://` an
 * in-memory PGlite; anything else a PGlite data directory (created if missing; `file://` prefix
 * optional). Pending migrations are applied unless `migrate: false`. A database that cannot be
 * reached or opened is RunwardenError('DATABASE_UNAVAILABLE').
 */
export async function openDb(target: string, opts: OpenDbOptions = {}): Promise<Db> {
  const logger = opts.logger ?? silentLogger;
  if (!target.trim()) throw new RunwardenError('DATABASE_UNAVAILABLE', 'no database given: pass --db <postgres URL or directory>');
  const started = performance.now();
  const open = async (): Promise<Db> => {
    const opened = isPostgresUrl(target) ? await openPostgres(target, opts.poolSize ?? 10, logger) : await openPglite(target, opts, logger);
    if (opts.migrate !== false) {
      try {
        await opened.migrate();
      } catch (err) {
        await opened.db.close().catch(() => undefined);
        if (err instanceof RunwardenError) throw err;
        throw unavailable(err, target, `migrating ${describeTarget(target)} failed`);
      }
    }
    try {
      await opened.ready?.();
    } catch (err) {
      await opened.db.close().catch(() => undefined);
      throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot serve ${describeTarget(target)} to other processes: ${(err as Error).message}`, { cause: err });
    }
    return opened.db;
  };
  const db = opts.waitForDatabase && isPostgresUrl(target) ? await openWaiting(open, target, logger, opts.waitForDatabase.signal) : await open();
  logger.debug({ kind: db.kind, ms: Math.round(performance.now() - started) }, 'database open');
  return db;
}

/** Tries `open` until the server answers: one line when it starts waiting, one when it is there. */
async function openWaiting(open: () => Promise<Db>, target: string, logger: Logger, signal?: AbortSignal): Promise<Db> {
  const since = Date.now();
  for (let n = 0; ; n++) {
    try {
      const db = await open();
      if (n > 0) logger.info({ target: describeTarget(target), waitedMs: Date.now() - since }, 'database available; starting');
      return db;
    } catch (err) {
      if (!isRunwardenError(err) || err.code !== 'DATABASE_UNAVAILABLE' || err.details.connection !== true || signal?.aborted) throw err;
      if (n === 0) logger.warn({ target: describeTarget(target), err: { message: err.message } }, 'database unavailable at start; waiting for it');
      await pause(reconnectDelay(n), signal);
      if (signal?.aborted) throw err;
    }
  }
}

interface Opened {
  db: Db;
  migrate(): Promise<void>;
  /** Migrated: the embedded database's owner may serve other processes now. */
  ready?(): Promise<void>;
}

/** How node-postgres reaches the database: PostgreSQL by URL, or the embedded database's owner. */
interface Via {
  kind: Db['kind'];
  /** Connection settings, over the defaults (a URL; or a stream and the embedded database's own waiting). */
  config: pg.ClientConfig;
  /** Runs after the pool has ended. */
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** Errors that mean the server is gone or refuses us, not that the statement was wrong. */
const CONNECTION_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const CONNECTION_SQLSTATE = new Set(['57P01', '57P02', '57P03', '3D000', '28000', '28P01', '53300']);

/** True when a driver error means the server is unreachable or refused us (not a bad statement). */
export function isConnectionError(err: unknown): boolean {
  return connectionCause(err) !== undefined;
}

/**
 * The connection-level error in `err` or its causes: drizzle wraps a driver error in its own
 * ("Failed query: ..."), so a server shutting down during a migration is found one level down.
 */
function connectionCause(err: unknown): { code?: unknown; message?: unknown } | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_ERRNO.has(code) || CONNECTION_SQLSTATE.has(code) || code.startsWith('08'))) return e;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) return e;
  }
  return undefined;
}

/** Refusals that waiting does not cure: no such database, bad credentials. */
const CONFIG_SQLSTATE = new Set(['3D000', '28000', '28P01']);

/**
 * A connection-level driver error as RunwardenError('DATABASE_UNAVAILABLE'); any other error as
 * it is (a bad statement is a bug, not an outage). `details.connection` is true when the server
 * is away (refused, reset, shutting down, starting up), which is worth waiting for, and false
 * when it answered with a refusal of this configuration (wrong database name or password).
 */
function unavailable(err: unknown, target: string, what = `the database at ${describeTarget(target)} is unavailable`): unknown {
  const cause = isRunwardenError(err) ? undefined : connectionCause(err);
  if (!cause) return err;
  const code = cause.code;
  const connection = !(typeof code === 'string' && CONFIG_SQLSTATE.has(code));
  return new RunwardenError('DATABASE_UNAVAILABLE', `${what}: ${String(cause.message ?? (err as Error).message)}`, { cause: err, details: { connection } });
}

/** int8 (counts, bigserial ids) as numbers, the way PGlite returns them, not strings. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** How long opening a connection may take before it counts as a failure (ms): a cut network must not hang a worker. */
const CONNECT_TIMEOUT_MS = 5_000;

async function openPostgres(url: string, poolSize: number, logger: Logger, via: Via = { kind: 'postgres', config: { connectionString: url } }): Promise<Opened> {
  const outage = new OutageLog(logger, describeTarget(url));
  const pool = new pg.Pool({ max: poolSize, types: pgTypes, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, ...via.config });
  // Every pool and client error is handled: an unhandled 'error' event (a server restart
  // terminating the sessions) would end the process. The call that used the client fails too.
  watchPool(pool, outage);
  try {
    (await pool.connect()).release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    await via.close?.().catch(() => undefined);
    throw unavailable(err, url, `cannot connect to ${describeTarget(url)}`);
  }
  const listener = new Listener(() => {
    // Named, so an operator can tell the long-lived LISTEN session apart in pg_stat_activity.
    const client = new pg.Client({ types: pgTypes, application_name: 'runwarden:listen', connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, ...via.config });
    watchClient(client, outage);
    return client;
  }, logger, outage);
  let closed = false;
  /** Maps a failure and feeds the outage log; a success ends an outage. */
  const failed = (err: unknown): unknown => {
    const mapped = unavailable(err, url);
    if (mapped !== err) outage.failed(err);
    return mapped;
  };

  const handle = (client: pg.Pool | pg.PoolClient, inTx: boolean): Db => {
    const db: Db = {
      kind: via.kind,
      target: url,
      async query<T>(text: string, params: unknown[] = [], o: { name?: string } = {}): Promise<T[]> {
        try {
          const res = await client.query(o.name ? { name: o.name, text, values: params } : { text, values: params });
          if (outage.down) outage.succeeded();
          return res.rows as T[];
        } catch (err) {
          throw failed(err);
        }
      },
      async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
        if (inTx) return fn(db);
        let c: pg.PoolClient;
        try {
          c = await pool.connect();
        } catch (err) {
          throw failed(err);
        }
        let broken: Error | undefined;
        try {
          await c.query('BEGIN');
          const result = await fn(handle(c, true));
          await c.query('COMMIT');
          if (outage.down) outage.succeeded();
          return result;
        } catch (err) {
          await c.query('ROLLBACK').catch((e: Error) => {
            broken = e; // a connection that cannot roll back goes back to no pool
          });
          throw failed(err);
        } finally {
          c.release(broken);
        }
      },
      listen: (channel, onNotify, onState) => listener.listen(channel, onNotify, onState),
      async notify(channel, payload) {
        await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
      },
      async close() {
        if (inTx) throw new Error('close() called on a transaction handle');
        if (closed) return;
        closed = true;
        await listener.close();
        await pool.end();
        await via.close?.();
      },
    };
    return db;
  };

  return {
    db: handle(pool, false),
    async migrate() {
      // One dedicated connection: the advisory lock is per session, and drizzle's migrator reads
      // the applied set before its transaction, so two unguarded migrators would both apply.
      const c = await pool.connect();
      try {
        await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        await migratePg(drizzlePg({ client: c }), { migrationsFolder: MIGRATIONS_DIR });
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
        c.release();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PGlite: node-postgres to the directory's owner (this process, or another), see embedded/open.ts

async function openPglite(target: string, opts: OpenDbOptions, logger: Logger): Promise<Opened> {
  const endpoint = await openEmbedded(target, { logger, notice: opts.notice ?? terminalNotice });
  // `ssl: false`: PGSSLMODE in the environment is for PostgreSQL servers, not a local socket. No
  // connect timeout: a connection may wait while a process takes the directory over, and the
  // embedded database gives up on its own (embedded/open.ts, waitMs) with a clearer message.
  const config: pg.ClientConfig = { stream: () => endpoint.stream(), ssl: false, connectionTimeoutMillis: 0 };
  const opened = await openPostgres(endpoint.target, opts.poolSize ?? 10, logger, { kind: 'pglite', config, close: () => endpoint.close() });
  return { ...opened, ready: () => endpoint.ready() };
}

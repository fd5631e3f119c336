/**
 * Opening an embedded database, shared by every runwarden process of the machine.
 *
 * The first process to open a data directory becomes its owner: it takes the directory's lock
 * (data-dir-lock.ts), hosts PGlite on a thread of its own (host.ts), migrates the database and
 * then serves it on a Unix socket in the directory (`<dir>/.s.PGSQL.5432`, so `psql -h <dir>`
 * reaches it too). Every other process finds the socket and connects through node-postgres,
 * exactly as to PostgreSQL. The owner's own connections go to its thread over MessagePorts.
 *
 * When the owner goes away (it exits, or is killed), its socket stops answering: the next
 * connection a process opens takes the directory over (or waits for whichever process did), so
 * a command never has to be "run again". A killed owner's lock is stale and taken over safely;
 * what it committed is on disk (durability.ts) and PostgreSQL's recovery replays it.
 *
 * Within a process, opening the same directory twice shares one owner: the second handle is a
 * client of the first's thread.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { RunwardenError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { tryLockDataDir, type DataDirLock } from '../data-dir-lock.js';
import { EmbeddedHost } from './host.js';
import { LazyStream } from './lazy-stream.js';

export interface EmbeddedOpenOptions {
  logger: Logger;
  /** A line for the person waiting (creating, opening slowly, waiting for another process). */
  notice(line: string): void;
  /** fsync at commit (durability.ts). Default true. */
  durable?: boolean;
  /** How long to wait for another process that holds the directory but does not serve it yet. Default 60s. */
  waitMs?: number;
  /** See SessionMultiplexer. Default 30s. */
  idleInTransactionMs?: number;
}

/** An open embedded database: where node-postgres gets its connections. */
export interface EmbeddedEndpoint {
  /** The data directory (absolute), or `memory://`. */
  readonly target: string;
  /** A new connection, for node-postgres's `stream` option. */
  stream(): Duplex;
  /** The database is migrated: the owner starts serving the other processes. */
  ready(): Promise<void>;
  /** Whether this process hosts the database now. */
  role(): 'owner' | 'client';
  close(): Promise<void>;
}

/** The longest Unix socket path (sun_path is 108 bytes on Linux, 104 on macOS, with the NUL). */
const SOCKET_PATH_MAX = 103;

/**
 * Where the owner of `dir` serves it: in the directory, or, when that path is too long for a
 * Unix socket, in a private directory of the user's under the system's temporary directory,
 * named after the data directory (every process computes the same path).
 */
export function socketPathFor(dir: string): string {
  const inDir = join(dir, '.s.PGSQL.5432');
  if (Buffer.byteLength(inDir) <= SOCKET_PATH_MAX) return inDir;
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 20);
  return join(tmpdir(), `runwarden-${userInfo().uid}`, `${hash}.sock`);
}

/** The directory as a person wrote it relative to here: `./.runwarden/db`, or absolute. */
export function displayPath(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? `.${sep}${rel}` : dir;
}

/** The directory's one canonical name, so every process agrees on its socket and lock. */
function canonical(target: string): string {
  const dir = resolve(target.replace(/^file:\/\//, ''));
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  return join(realpathSync(parent), basename(dir));
}

function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolveSocket, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolveSocket(s);
    });
    s.once('error', reject);
  });
}

/** No process serves the socket: no file, or a file nobody listens on (its owner was killed). */
function ownerGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Owned {
  dir: string;
  host: EmbeddedHost;
  lock: DataDirLock;
  refs: number;
  failed: boolean;
  serving?: Promise<void>;
}

/** The directories this process owns, shared by its handles. */
const owned = new Map<string, Owned>();

/** Whether this process is the owner of data directory `dir` now (for tests and diagnostics). */
export function ownsDataDir(dir: string): boolean {
  const entry = owned.get(canonical(dir));
  return entry !== undefined && !entry.failed;
}

async function release(entry: Owned): Promise<void> {
  entry.refs -= 1;
  if (entry.refs > 0) return;
  if (owned.get(entry.dir) === entry) owned.delete(entry.dir);
  try {
    // The socket goes first, then PGlite closes cleanly, then the next process may take over.
    await entry.host.close();
  } finally {
    await entry.lock.release();
  }
}

async function becomeOwner(dir: string, lock: DataDirLock, o: EmbeddedOpenOptions, serveNow: boolean): Promise<Owned> {
  const where = displayPath(dir);
  let host: EmbeddedHost;
  const creating = !existsSync(join(dir, 'PG_VERSION'));
  const slow = creating ? undefined : setTimeout(() => o.notice(`opening the embedded database in ${where}…`), 1000);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Like PostgreSQL's own data directory: the owner's alone, socket included (it asks no password).
    if (statSync(dir).uid === userInfo().uid) chmodSync(dir, 0o700);
    if (creating) o.notice(`creating the embedded database in ${where} (first run, a few seconds)…`);
    host = await EmbeddedHost.start({ dir, durable: o.durable ?? true, ...(o.idleInTransactionMs !== undefined ? { idleInTransactionMs: o.idleInTransactionMs } : {}) });
  } catch (err) {
    await lock.release();
    throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot open the embedded database at ${dir}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(slow);
  }
  o.logger.debug({ dir, created: host.created, ms: host.openMs, generation: lock.generation }, 'embedded database hosted');
  const entry: Owned = { dir, host, lock, refs: 1, failed: false };
  host.onFailure((message) => {
    o.logger.error({ dir, message }, 'the embedded database thread failed; the next connection opens it again');
    entry.failed = true;
    if (owned.get(dir) === entry) owned.delete(dir);
    void lock.release();
  });
  owned.set(dir, entry);
  if (serveNow) await serve(entry);
  return entry;
}

async function serve(entry: Owned): Promise<void> {
  entry.serving ??= (async () => {
    const path = socketPathFor(entry.dir);
    if (path !== join(entry.dir, '.s.PGSQL.5432')) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await entry.host.serve(path);
  })();
  await entry.serving;
}

/**
 * Finds the directory's owner: this process (a shared handle), another process (its socket
 * answers), or nobody (then this process takes the lock and becomes the owner). A process that
 * holds the lock but does not answer yet is opening the database: wait for it.
 */
async function locate(dir: string, o: EmbeddedOpenOptions, serveNow: boolean): Promise<Owned | 'socket'> {
  const socket = socketPathFor(dir);
  const started = Date.now();
  let told = false;
  for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
    const mine = owned.get(dir);
    if (mine && !mine.failed) {
      mine.refs += 1;
      if (serveNow) await serve(mine);
      return mine;
    }
    try {
      (await connectSocket(socket)).destroy();
      return 'socket';
    } catch (err) {
      if (!ownerGone(err)) throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot reach the embedded database at ${dir} (${socket}): ${(err as Error).message}`, { cause: err });
    }
    const got = tryLockDataDir(dir);
    if ('release' in got) return becomeOwner(dir, got, o, serveNow);
    const waited = Date.now() - started;
    if (waited > (o.waitMs ?? 60_000)) {
      throw new RunwardenError(
        'DATABASE_UNAVAILABLE',
        `the embedded database at ${dir} is held by process ${got.holder}, which has not served it for ${Math.round(waited / 1000)}s; ` +
          'if that process is stuck, stop it',
        { details: { lock: got.lockDir, pid: got.holder } },
      );
    }
    if (!told && waited >= 1000 && got.holder !== process.pid) {
      told = true;
      o.notice(`waiting for process ${got.holder}, which is opening the embedded database in ${displayPath(dir)}…`);
    }
    await pause(wait);
  }
}

class DirEndpoint implements EmbeddedEndpoint {
  private closed = false;

  constructor(
    readonly target: string,
    private entry: Owned | undefined,
    private readonly o: EmbeddedOpenOptions,
  ) {}

  role(): 'owner' | 'client' {
    return this.entry && !this.entry.failed ? 'owner' : 'client';
  }

  stream(): Duplex {
    if (this.entry && !this.entry.failed) return this.entry.host.connect();
    return new LazyStream(() => this.transport());
  }

  /** The owner's socket; when nobody serves it any more, whoever takes the directory over. */
  private async transport(): Promise<Duplex> {
    const socket = socketPathFor(this.target);
    try {
      return await connectSocket(socket);
    } catch (err) {
      if (!ownerGone(err)) throw err;
    }
    if (this.closed) throw new Error('the database handle is closed');
    // Already migrated (someone served it before): serve the other processes at once.
    const found = await locate(this.target, this.o, true);
    if (found === 'socket') return connectSocket(socket);
    if (this.entry && !this.entry.failed) await release(found); // another connection took it over first
    else this.entry = found;
    return this.entry.host.connect();
  }

  async ready(): Promise<void> {
    if (this.entry && !this.entry.failed) await serve(this.entry);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entry = this.entry;
    this.entry = undefined;
    if (entry && !entry.failed) await release(entry);
  }
}

class MemoryEndpoint implements EmbeddedEndpoint {
  readonly target = 'memory://';
  constructor(private readonly host: EmbeddedHost) {}
  role(): 'owner' {
    return 'owner';
  }
  stream(): Duplex {
    return this.host.connect();
  }
  async ready(): Promise<void> {}
  close(): Promise<void> {
    return this.host.close();
  }
}

/**
 * Opens the embedded database in `target` (a directory; `file://` optional), or an in-memory one
 * for `memory://` (hosted the same way, reachable from this process only).
 */
export async function openEmbedded(target: string, o: EmbeddedOpenOptions): Promise<EmbeddedEndpoint> {
  if (target === 'memory://' || target === ':memory:') {
    try {
      return new MemoryEndpoint(await EmbeddedHost.start({ durable: false, ...(o.idleInTransactionMs !== undefined ? { idleInTransactionMs: o.idleInTransactionMs } : {}) }));
    } catch (err) {
      throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot open an in-memory database: ${(err as Error).message}`, { cause: err });
    }
  }
  let dir: string;
  try {
    dir = canonical(target);
  } catch (err) {
    throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot open the embedded database at ${target}: ${(err as Error).message}`, { cause: err });
  }
  const found = await locate(dir, o, false);
  return new DirEndpoint(dir, found === 'socket' ? undefined : found, o);
}

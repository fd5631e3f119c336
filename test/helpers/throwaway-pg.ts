/**
 * A PostgreSQL server of a test's own, for tests that stop, restart or crash the database: the
 * shared server at RUNWARDEN_TEST_PG serves every other test file at the same time and must never
 * be restarted.
 *
 * `startThrowawayPg()` creates a cluster with `initdb` from `pg_config --bindir` in a temporary
 * directory, starts it with `pg_ctl` on a free loopback port (trust auth, user `postgres`,
 * durability off: it is thrown away), and returns a handle to stop, start, restart or crash it
 * and finally `destroy()` it (stops the server and deletes the directory). Run as root (as in
 * CI containers), the server binaries run as the `postgres` user through `runuser`, because
 * PostgreSQL refuses to run as root; otherwise as the current user.
 *
 * ```ts
 * const pg = await startThrowawayPg();
 * const url = await pg.createDatabase('rw_outage');   // postgres://postgres@127.0.0.1:<port>/rw_outage
 * await pg.stop();                                    // the database goes away ...
 * await pg.start();                                   // ... and comes back, same data, same port
 * await pg.destroy();                                 // in afterAll
 * ```
 *
 * `available()` says whether the binaries are installed, for `describe.runIf`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface ThrowawayPg {
  readonly port: number;
  /** Data directory and logs live under here. */
  readonly dir: string;
  /** The URL of database `name` on this server (default `postgres`). */
  url(name?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m fast`: sessions are terminated, as in a real restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it, waits `downMs`, starts it again. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Kills it the hard way (`-m immediate`: no shutdown checkpoint; it recovers on the next start). */
  crash(): Promise<void>;
  /** True while the server runs. */
  running(): boolean;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** Stops the server if it runs and deletes the directory. Idempotent. */
  destroy(): Promise<void>;
}

let bindirCache: string | null | undefined;

/** The directory of `initdb` and `pg_ctl`, or null when PostgreSQL's server binaries are not installed. */
export function serverBindir(): string | null {
  if (bindirCache !== undefined) return bindirCache;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    bindirCache = existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) ? dir : null;
  } catch {
    bindirCache = null;
  }
  return bindirCache;
}

/** True when a throwaway server can be started here (the server binaries exist). */
export function available(): boolean {
  return serverBindir() !== null;
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a server binary as `postgres` when we are root, else as ourselves. */
async function pgBin(bin: string, args: string[]): Promise<string> {
  const dir = serverBindir();
  if (!dir) throw new Error('PostgreSQL server binaries not found (pg_config --bindir)');
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(dir, bin), ...args]] : [join(dir, bin), args];
  const { stdout } = await run(cmd, argv, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

function pgBinSync(bin: string, args: string[]): void {
  const dir = serverBindir();
  if (!dir) return;
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', join(dir, bin), ...args]] : [join(dir, bin), args];
  execFileSync(cmd, argv, { stdio: 'ignore' });
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ThrowawayPg>();
let exitHookInstalled = false;

/** Creates and starts a throwaway cluster. Call `destroy()` when done (afterAll). */
export async function startThrowawayPg(opts: { maxConnections?: number } = {}): Promise<ThrowawayPg> {
  const dir = await mkdtemp(join(tmpdir(), 'rw-throwaway-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (asRoot()) {
    const { uid, gid } = postgresUser();
    await chown(dir, uid, gid);
  }
  await pgBin('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  // Durability off: nothing here outlives the test. Unix sockets in our own directory so two
  // throwaway servers never meet in /var/run/postgresql.
  const options = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${dir}'`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    `-c max_connections=${opts.maxConnections ?? 200}`,
  ].join(' ');
  let up = false;
  let destroyed = false;

  const handle: ThrowawayPg = {
    port,
    dir,
    url: (name = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: handle.url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return handle.url(name);
    },
    async start() {
      if (up) return;
      await pgBin('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', logFile, '-o', options]);
      up = true;
    },
    async stop() {
      if (!up) return;
      await pgBin('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'fast', '-D', data]);
      up = false;
    },
    async restart(o = {}) {
      await handle.stop();
      if (o.downMs) await new Promise((r) => setTimeout(r, o.downMs));
      await handle.start();
    },
    async crash() {
      if (!up) return;
      await pgBin('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'immediate', '-D', data]);
      up = false;
    },
    running: () => up,
    log: () => {
      try {
        return execFileSync('cat', [logFile], { encoding: 'utf8' });
      } catch {
        return '';
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(handle);
      if (up) await pgBin('pg_ctl', ['stop', '-w', '-t', '60', '-m', 'immediate', '-D', data]).catch(() => undefined);
      up = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
  live.add(handle);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test process that dies without afterAll must not leave servers behind.
    process.once('exit', () => {
      for (const h of live) {
        try {
          pgBinSync('pg_ctl', ['stop', '-m', 'immediate', '-D', join(h.dir, 'data')]);
        } catch {
          // already down
        }
      }
    });
  }
  try {
    await handle.start();
  } catch (err) {
    const log = handle.log();
    await handle.destroy();
    throw new Error(`throwaway PostgreSQL did not start: ${(err as Error).message}\n${log}`);
  }
  return handle;
}

function postgresUser(): { uid: number; gid: number } {
  const line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

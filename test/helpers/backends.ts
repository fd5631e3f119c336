/**
 * One integration suite, two backends: `describeBackends` runs its body against PGlite always
 * and against PostgreSQL whenever it is reachable at RUNWARDEN_TEST_PG (default
 * postgres://postgres@127.0.0.1:5432/postgres). With RUNWARDEN_TEST_REQUIRE_PG=1 (CI) an
 * unreachable server fails the run instead of leaving the PostgreSQL half out.
 *
 * Each describe gets a fresh, migrated database cloned from a template: on PostgreSQL
 * `CREATE DATABASE ... TEMPLATE` (dropped afterwards); on PGlite a copy of a migrated data
 * directory (removed afterwards). Templates are named after a hash of the migrations, so a
 * changed migration gets a new template instead of a stale one, and concurrent test files build
 * each template once (an advisory lock on PostgreSQL, an atomic rename on disk for PGlite).
 * Cloning is the point: a fresh PGlite with migrations takes seconds, a copy a fraction of one.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { MIGRATIONS_DIR, openDb, type Db } from '../../src/store/db.js';

export interface Backend {
  kind: 'pglite' | 'postgres';
  /** The database of the current describe (opened in beforeAll). */
  db: () => Db;
  /** Its connection target, for CLI subprocesses: a PostgreSQL URL, or the PGlite directory. */
  url: () => string;
  /**
   * Runs fn, which hands the database to other processes (a CLI against `url()`). Nothing to do
   * on either backend: this process owns the PGlite directory and serves it to them.
   */
  handOff<T>(fn: () => Promise<T>): Promise<T>;
}

export const PG_URL = process.env.RUNWARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether PostgreSQL answers at PG_URL; with RUNWARDEN_TEST_REQUIRE_PG=1 it must. */
async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.RUNWARDEN_TEST_REQUIRE_PG === '1') {
      throw new Error(`PostgreSQL is required (RUNWARDEN_TEST_REQUIRE_PG=1) and not reachable at ${PG_URL}: ${(err as Error).message}`);
    }
    return false;
  }
}

// Top-level await: vitest collects describes synchronously.
export const pgUp = await postgresReachable();

/** Migrations and the PGlite version: what a template depends on. */
async function templateHash(): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if ((await stat(path)).isDirectory()) await walk(path);
      else h.update(name).update(await readFile(path));
    }
  };
  await walk(MIGRATIONS_DIR);
  // The package does not export its package.json; read it where npm put it.
  h.update(await readFile(join(MIGRATIONS_DIR, '..', 'node_modules', '@electric-sql', 'pglite', 'package.json')).catch(() => ''));
  return h.digest('hex').slice(0, 12);
}
const HASH = await templateHash();

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_TEMPLATE = `rw_tpl_${HASH}`;
/** Serialises template building and cloning across concurrently running test files. */
const TEMPLATE_LOCK = 0x72777470;

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function urlFor(name: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function clonePostgres(): Promise<string> {
  const name = `rw_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await withAdmin(async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const found = await c.query<{ datistemplate: boolean }>('SELECT datistemplate FROM pg_database WHERE datname = $1', [PG_TEMPLATE]);
      // `datistemplate` is set last: a template without it is a build that died half way.
      if (!found.rows[0]?.datistemplate) {
        if (found.rows[0]) await c.query(`DROP DATABASE ${PG_TEMPLATE} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${PG_TEMPLATE}`);
        const db = await openDb(urlFor(PG_TEMPLATE));
        await db.close();
        await c.query(`ALTER DATABASE ${PG_TEMPLATE} IS_TEMPLATE true`);
      }
      await c.query(`CREATE DATABASE ${name} TEMPLATE ${PG_TEMPLATE}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
  return urlFor(name);
}

async function dropPostgres(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

// ---------------------------------------------------------------------------------------------
// PGlite

const PGLITE_TEMPLATE = join(tmpdir(), `runwarden-pglite-template-${HASH}`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

let pgliteTemplate: Promise<string> | undefined;
function ensurePgliteTemplate(): Promise<string> {
  pgliteTemplate ??= (async () => {
    if (await exists(PGLITE_TEMPLATE)) return PGLITE_TEMPLATE;
    const build = await mkdtemp(join(tmpdir(), 'rw-tpl-build-'));
    const db = await openDb(join(build, 'db'));
    await db.close();
    // Renaming into place is atomic: a concurrent builder that loses keeps the winner's copy.
    await rename(join(build, 'db'), PGLITE_TEMPLATE).catch(async (err: NodeJS.ErrnoException) => {
      if (!(await exists(PGLITE_TEMPLATE))) throw err;
    });
    await rm(build, { recursive: true, force: true });
    return PGLITE_TEMPLATE;
  })();
  return pgliteTemplate;
}

/** A fresh, migrated PGlite data directory (a copy of the template); the caller removes its parent. */
export async function clonePglite(): Promise<string> {
  const template = await ensurePgliteTemplate();
  const dir = join(await mkdtemp(join(tmpdir(), 'rw-test-')), 'db');
  await cp(template, dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------

function suite(kind: Backend['kind'], title: string, body: (b: Backend) => void): void {
  describe(`${title} [${kind}]`, () => {
    let db: Db | undefined;
    let url = '';
    beforeAll(async () => {
      url = kind === 'postgres' ? await clonePostgres() : await clonePglite();
      db = await openDb(url);
    });
    afterAll(async () => {
      await db?.close();
      if (!url) return;
      if (kind === 'postgres') await dropPostgres(url);
      else await rm(join(url, '..'), { recursive: true, force: true });
    });
    body({
      kind,
      db: () => {
        if (!db) throw new Error('the database opens in beforeAll: call db() inside a hook or test');
        return db;
      },
      url: () => url,
      handOff: (fn) => fn(),
    });
  });
}

/** Runs `body` once per backend, each in its own describe with a fresh database. */
export function describeBackends(title: string, body: (b: Backend) => void): void {
  suite('pglite', title, body);
  if (pgUp) suite('postgres', title, body);
}

/** For tests that need several connections at once: PostgreSQL only, and the title says so. */
export function describePostgresOnly(title: string, body: (b: Backend) => void): void {
  if (pgUp) suite('postgres', `${title} (PostgreSQL only: needs several connections)`, body);
  // Reported as skipped, so a run without PostgreSQL says what it left out.
  else describe.skipIf(true)(`${title} (PostgreSQL only: not reachable at ${PG_URL})`, () => undefined);
}

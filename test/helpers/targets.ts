/**
 * Database targets for tests that hand a database to another process (crash tests): a fresh
 * PGlite directory always, and a fresh PostgreSQL database when the server is reachable.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const PG_URL = process.env.RUNWARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let reachable: boolean | undefined;
/** Whether PostgreSQL answers at RUNWARDEN_TEST_PG; with RUNWARDEN_TEST_REQUIRE_PG=1 it must. */
export async function postgresReachable(): Promise<boolean> {
  if (reachable !== undefined) return reachable;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    reachable = true;
  } catch (err) {
    if (process.env.RUNWARDEN_TEST_REQUIRE_PG === '1') throw new Error(`PostgreSQL is required (RUNWARDEN_TEST_REQUIRE_PG=1) and not reachable at ${PG_URL}: ${(err as Error).message}`);
    reachable = false;
  }
  return reachable;
}

/** A new, empty PostgreSQL database on the test server; returns its URL. */
export async function freshPostgresDatabase(prefix = 'rw_t'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TargetBackend {
  kind: 'pglite' | 'postgres';
  /** A fresh database for one test: a PGlite directory or a PostgreSQL URL. */
  target(): Promise<string>;
}

// Top-level await: vitest collects `describe.each` synchronously.
const pgUp = await postgresReachable();

export function crashBackends(): TargetBackend[] {
  const list: TargetBackend[] = [{ kind: 'pglite', target: async () => join(await mkdtemp(join(tmpdir(), 'rw-pglite-')), 'db') }];
  if (pgUp) list.push({ kind: 'postgres', target: () => freshPostgresDatabase('rw_crash') });
  return list;
}

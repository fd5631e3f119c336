/**
 * Database targets for tests that hand a database to another process (crash tests): a fresh
 * PGlite directory always, and a fresh PostgreSQL database when the server is reachable.
 * (Reachability is decided once, in backends.ts.)
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, pgUp } from './backends.js';

export { PG_URL, pgUp } from './backends.js';

/** Whether PostgreSQL is reachable (decided once, in backends.ts). */
export async function postgresReachable(): Promise<boolean> {
  return pgUp;
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
  created.push(name);
  return url.toString();
}

const created: string[] = [];

/** Drops the databases freshPostgresDatabase made in this process (call from afterAll, after closing them). */
export async function dropCreatedDatabases(): Promise<void> {
  if (created.length === 0) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export interface TargetBackend {
  kind: 'pglite' | 'postgres';
  /** A fresh database for one test: a PGlite directory or a PostgreSQL URL. */
  target(): Promise<string>;
}

export function crashBackends(): TargetBackend[] {
  const list: TargetBackend[] = [{ kind: 'pglite', target: async () => join(await mkdtemp(join(tmpdir(), 'rw-pglite-')), 'db') }];
  if (pgUp) list.push({ kind: 'postgres', target: () => freshPostgresDatabase('rw_crash') });
  return list;
}

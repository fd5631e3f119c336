/** A throwaway PostgreSQL database for a bench run, on the server the tests use. */
import pg from 'pg';

/** The server: RUNWARDEN_TEST_PG, default postgres://postgres@127.0.0.1:5432/postgres. */
export const PG_URL = process.env.RUNWARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates `name` afresh (dropping one left by a run that died) and returns its URL; null when the server does not answer. */
export async function freshPostgres(name: string): Promise<string | null> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return null;
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops the database at `url`. */
export async function dropPostgres(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  await admin.end();
}

/**
 * The database handle itself: opening (and refusing to open) each kind of target, the same types
 * from both drivers, migrations guarded against concurrent migrators, and a LISTEN that survives
 * its connection being dropped.
 */
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { isRunwardenError } from '../../src/errors.js';
import { MEMORY_TARGET, openDb } from '../../src/store/db.js';
import { describeBackends, describePostgresOnly, PG_URL } from '../helpers/backends.js';

async function openError(target: string): Promise<{ code: string; message: string }> {
  try {
    const db = await openDb(target);
    await db.close();
  } catch (err) {
    if (isRunwardenError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error(`${target} opened`);
}

describe('openDb', () => {
  it('maps an unreachable server to DATABASE_UNAVAILABLE, without the password', async () => {
    const err = await openError('postgres://rw:hunter2-secret@127.0.0.1:1/nowhere');
    expect(err.code).toBe('DATABASE_UNAVAILABLE');
    expect(err.message).toContain('cannot connect to postgres://rw:***@127.0.0.1:1/nowhere');
    expect(err.message).not.toContain('hunter2');
  });

  it('opens an in-memory PGlite, migrated unless told not to', async () => {
    const db = await openDb(MEMORY_TARGET);
    try {
      expect(db).toMatchObject({ kind: 'pglite', target: 'memory://' });
      expect(await db.query('SELECT id FROM tasks')).toEqual([]);
    } finally {
      await db.close();
      await db.close(); // closing twice is harmless
    }
    const bare = await openDb(MEMORY_TARGET, { migrate: false });
    try {
      await expect(bare.query('SELECT id FROM tasks')).rejects.toThrow(/relation "tasks" does not exist/);
    } finally {
      await bare.close();
    }
  });
});

describeBackends('Db', ({ db, kind }) => {
  it('returns the same JavaScript types from both drivers', async () => {
    const [row] = await db().query<Record<string, unknown>>(
      `SELECT count(*) AS n, 2::int AS i, $1::timestamptz AS at, '{"a":[1]}'::jsonb AS j, ARRAY['x','y']::text[] AS arr, true AS b`,
      [new Date('2025-01-01T00:00:00Z')],
      { name: 'rw_test_types' },
    );
    expect(row).toEqual({ n: 1, i: 2, at: new Date('2025-01-01T00:00:00Z'), j: { a: [1] }, arr: ['x', 'y'], b: true });
    expect(db().kind).toBe(kind);
  });

  it('leaves statement errors as they are (only lost connections become DATABASE_UNAVAILABLE)', async () => {
    await expect(db().query('SELECT * FROM no_such_table')).rejects.toSatisfy((err: unknown) => !isRunwardenError(err) && (err as { code?: string }).code === '42P01');
  });

  it('refuses close() on a transaction handle', async () => {
    await expect(db().transaction((tx) => tx.close())).rejects.toThrow(/transaction handle/);
    expect(await db().query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describePostgresOnly('PostgreSQL handle', () => {
  async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
    const name = `rw_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      drop: async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }

  it('applies migrations once when six openers migrate an empty database at the same time', async () => {
    const { url, drop } = await freshDatabase();
    try {
      const dbs = await Promise.all(Array.from({ length: 6 }, () => openDb(url)));
      try {
        const applied = await dbs[0]!.query<{ n: number }>('SELECT count(*) AS n FROM drizzle.__drizzle_migrations');
        const journal = (await import('../../drizzle/meta/_journal.json', { with: { type: 'json' } })).default as { entries: unknown[] };
        expect(applied[0]!.n).toBe(journal.entries.length);
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    } finally {
      await drop();
    }
  });

  it('says DATABASE_UNAVAILABLE for a database that does not exist', async () => {
    const url = new URL(PG_URL);
    url.pathname = '/rw_no_such_database';
    expect((await openError(url.toString())).code).toBe('DATABASE_UNAVAILABLE');
  });

  it('listens again after its connection is dropped', async () => {
    const { url, drop } = await freshDatabase();
    const db = await openDb(url);
    try {
      const got: string[] = [];
      const unlisten = await db.listen('rw_reconnect', (p) => got.push(p));
      await db.notify('rw_reconnect', 'before');
      await vi.waitFor(() => expect(got).toContain('before'));
      const killed = await db.query<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'runwarden:listen' AND datname = current_database()",
      );
      expect(killed).toEqual([{ ok: true }]);
      // Notifications sent while it reconnects are lost (workers also poll): keep sending until one lands.
      await vi.waitFor(
        async () => {
          await db.notify('rw_reconnect', 'after');
          expect(got).toContain('after');
        },
        { timeout: 10_000, interval: 50 },
      );
      await unlisten();
    } finally {
      await db.close();
      await drop();
    }
  });
});

/**
 * Many node-postgres connections on PGlite's one session (embedded/multiplexer.ts), each behaving
 * as if it had a session of its own: transactions never interleaved, LISTEN per connection,
 * statement names per connection, nothing left behind by a connection that dies, a transaction
 * left idle while others wait ended, and cached statements forgotten when the schema changes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EmbeddedHost } from '../../src/store/embedded/host.js';

let host: EmbeddedHost;
const clients: pg.Client[] = [];

async function client(h: EmbeddedHost = host): Promise<pg.Client> {
  const c = new pg.Client({ stream: () => h.connect() } as pg.ClientConfig);
  c.on('error', () => undefined); // a test that ends a connection expects it
  await c.connect();
  clients.push(c);
  return c;
}

/** A client's connection dies without a goodbye (a killed process, a dropped socket). */
function cut(c: pg.Client): void {
  (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

beforeAll(async () => {
  host = await EmbeddedHost.start({ durable: false });
  const c = await client();
  await c.query('CREATE TABLE t (id int PRIMARY KEY, who text)');
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await host?.close();
});

describe('the shared session', () => {
  it('runs no statement of another connection inside a transaction, and none is rolled back with it', async () => {
    const a = await client();
    const b = await client();
    await a.query('BEGIN');
    await a.query("INSERT INTO t VALUES (1, 'a')");
    let bDone = false;
    // Sent while A's transaction is open: it must neither see A's row nor be part of A's transaction.
    const bWrite = b.query("INSERT INTO t VALUES (2, 'b')").then(() => (bDone = true));
    const bRead = b.query('SELECT count(*)::int AS n FROM t');
    // A round trip of A's after B's statements were sent: a multiplexer that let B in would have run them by now.
    await a.query('SELECT 1');
    expect(bDone).toBe(false);
    await a.query('ROLLBACK');
    await bWrite;
    expect((await bRead).rows).toEqual([{ n: 1 }]);
    expect((await a.query('SELECT id, who FROM t ORDER BY id')).rows).toEqual([{ id: 2, who: 'b' }]);
    await b.query('DELETE FROM t');
  });

  it('keeps each connection\'s unnamed statements apart under concurrent extended-protocol queries', async () => {
    const cs = await Promise.all([client(), client(), client(), client()]);
    const results = await Promise.all(
      cs.map(async (c, i) => {
        const got: number[] = [];
        for (let k = 0; k < 50; k++) got.push((await c.query<{ v: number }>('SELECT $1::int AS v', [i * 1000 + k])).rows[0]!.v);
        return got;
      }),
    );
    results.forEach((got, i) => expect(got).toEqual(Array.from({ length: 50 }, (_, k) => i * 1000 + k)));
  });

  it('gives two connections preparing the same statement name each their own statement', async () => {
    const a = await client();
    const b = await client();
    expect((await a.query({ name: 'same', text: 'SELECT 1 AS one' })).rows).toEqual([{ one: 1 }]);
    expect((await b.query({ name: 'same', text: "SELECT 'two' AS two" })).rows).toEqual([{ two: 'two' }]);
    expect((await a.query({ name: 'same', text: 'SELECT 1 AS one' })).rows).toEqual([{ one: 1 }]);
  });

  it('passes a notification to the connections that listen on its channel, and to no other', async () => {
    const x = await client();
    const y = await client();
    const sender = await client();
    const heard = { x: [] as string[], y: [] as string[], sender: [] as string[] };
    x.on('notification', (m) => heard.x.push(`${m.channel}:${m.payload}`));
    y.on('notification', (m) => heard.y.push(`${m.channel}:${m.payload}`));
    sender.on('notification', (m) => heard.sender.push(`${m.channel}:${m.payload}`));
    await x.query('LISTEN "chan_x"');
    await y.query('LISTEN chan_y');
    await sender.query("SELECT pg_notify('chan_x', 'outside')");
    await sender.query('BEGIN');
    await sender.query("SELECT pg_notify('chan_x', 'inside')");
    await sender.query('COMMIT');
    await sender.query('BEGIN');
    await sender.query("SELECT pg_notify('chan_x', 'rolled back')");
    await sender.query('ROLLBACK');
    await sender.query("SELECT pg_notify('chan_y', 'for y')");
    await vi.waitFor(() => expect(heard.y).toEqual(['chan_y:for y']));
    // y's came last: x's, sent before it, have arrived too if they were to.
    expect(heard.x).toEqual(['chan_x:outside', 'chan_x:inside']);
    expect(heard.sender).toEqual([]);
    await x.query('UNLISTEN "chan_x"');
    await sender.query("SELECT pg_notify('chan_x', 'after unlisten')");
    await sender.query("SELECT pg_notify('chan_y', 'second')");
    await vi.waitFor(() => expect(heard.y).toEqual(['chan_y:for y', 'chan_y:second']));
    expect(heard.x).toEqual(['chan_x:outside', 'chan_x:inside']);
  });

  it('rolls back the transaction of a connection that dies in it, and closes its statements', async () => {
    const a = await client();
    const b = await client();
    await a.query({ name: 'dying', text: 'SELECT 1' });
    await a.query('BEGIN');
    await a.query("INSERT INTO t VALUES (3, 'dies')");
    const prepared = async () => (await b.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'dying@%'")).rows[0]!.n;
    const waiting = b.query('SELECT count(*)::int AS n FROM t');
    cut(a);
    // B was waiting for A's transaction; it runs once A's is undone, and sees nothing of it.
    expect((await waiting).rows).toEqual([{ n: 0 }]);
    expect(await prepared()).toBe(0);
    expect((await b.query('SELECT 1 AS up')).rows).toEqual([{ up: 1 }]);
  });

  it('ends a connection idle in a transaction while another waits', async () => {
    const h = await EmbeddedHost.start({ durable: false, idleInTransactionMs: 200 });
    try {
      const a = await client(h);
      const b = await client(h);
      const ended = new Promise<Error>((resolve) => a.once('error', resolve));
      await a.query('BEGIN');
      // B waits behind A's open transaction; A does nothing more.
      expect((await b.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      expect((await ended).message).toMatch(/idle in a transaction/);
    } finally {
      await h.close();
    }
  }, 30_000);

  it('prepares an unnamed statement once for every connection, and forgets it when the schema changes', async () => {
    const a = await client();
    const b = await client();
    await a.query('CREATE TABLE s (id int)');
    await a.query('INSERT INTO s VALUES ($1)', [1]);
    const text = 'SELECT * FROM s WHERE id >= $1';
    expect((await a.query(text, [0])).rows).toEqual([{ id: 1 }]);
    expect((await b.query(text, [0])).rows).toEqual([{ id: 1 }]);
    const cached = async () =>
      (await a.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'rw_cached_%' AND statement = $1", [text])).rows[0]!.n;
    expect(await cached()).toBe(1);
    // A column more: a plan made before would now return the wrong row type.
    await b.query('ALTER TABLE s ADD COLUMN note text');
    expect((await a.query(text, [0])).rows).toEqual([{ id: 1, note: null }]);
    expect((await b.query(text, [0])).rows).toEqual([{ id: 1, note: null }]);
  });
});

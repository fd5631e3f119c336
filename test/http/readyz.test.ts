/**
 * Readiness follows the database: 200 while PostgreSQL answers, 503 with a body that says so
 * while it is stopped (liveness stays 200: the process is fine), 200 again once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { deploymentConfig } from '../../src/config/index.js';
import { createMasker } from '../../src/secrets/mask.js';
import { openDb, type Db } from '../../src/store/db.js';
import { fixtureRunbooks } from '../helpers/harness.js';
import { available, startThrowawayPg, type ThrowawayPg } from '../helpers/throwaway-pg.js';

describe.runIf(available())('readiness through a PostgreSQL outage (a throwaway server)', () => {
  let server: ThrowawayPg;
  let db: Db;
  beforeAll(async () => {
    server = await startThrowawayPg();
    db = await openDb(server.url());
  });
  afterAll(async () => {
    await db?.close().catch(() => undefined);
    await server?.destroy();
  });

  it('answers 503 with a clear body while the database is down, and 200 when it is back', async () => {
    const app = buildApp({ db, config: deploymentConfig(), runbooks: await fixtureRunbooks(), masker: createMasker([]) });
    try {
      expect((await app.inject('/readyz')).statusCode).toBe(200);
      await server.stop();
      const down = await app.inject('/readyz');
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ status: 'unavailable', database: { kind: 'postgres', reachable: false, error: expect.stringMatching(/^the database does not answer: .+/) } });
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      await server.start();
      for (let i = 0; i < 100; i++) {
        if ((await app.inject('/readyz')).statusCode === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'ready', database: { reachable: true } });
    } finally {
      await app.close();
    }
  });
});

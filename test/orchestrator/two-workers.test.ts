/**
 * Two workers, each with its own connection pool, on one PostgreSQL database (so this needs
 * real PostgreSQL: PGlite has one connection): every task is claimed by one worker once, and no
 * task's action ever runs twice at the same time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/store/db.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { harness } from '../helpers/harness.js';
import { dropCreatedDatabases, freshPostgresDatabase, postgresReachable } from '../helpers/targets.js';

const pgUp = await postgresReachable();

describe.runIf(pgUp)('two workers on PostgreSQL (needs several connections)', () => {
  let sim: Sim;
  let dbA: Db;
  let dbB: Db;
  beforeAll(async () => {
    sim = await startSim();
    const url = await freshPostgresDatabase('rw_two');
    dbA = await openDb(url);
    dbB = await openDb(url);
  });
  afterAll(async () => {
    await dbA?.close();
    await dbB?.close();
    await sim?.close();
    await dropCreatedDatabases();
  });

  it('never run the same task at the same time', async () => {
    const hA = await harness(dbA, sim);
    const hB = await harness(dbB, sim);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      sim.setService(`svc-${i}`, { status: 'degraded' });
      ids.push((await hA.submit('t.restart', { service: `svc-${i}` })).id);
    }
    // Track overlapping restarts per service as the API sees them.
    const inFlight = new Map<string, number>();
    let overlaps = 0;
    sim.events.on('request', (r) => {
      if (r.method !== 'POST') return;
      const n = (inFlight.get(r.path) ?? 0) + 1;
      inFlight.set(r.path, n);
      if (n > 1) overlaps += 1;
    });
    sim.events.on('settled', (r) => {
      if (r.method === 'POST') inFlight.set(r.path, (inFlight.get(r.path) ?? 1) - 1);
    });

    await Promise.all([hA.work({ workerId: 'wa', concurrency: 4 }), hB.work({ workerId: 'wb', concurrency: 4 })]);

    expect(overlaps).toBe(0);
    const byWorker = { wa: 0, wb: 0 } as Record<string, number>;
    for (const id of ids) {
      const t = await hA.task(id);
      expect(t.state).toBe('completed');
      const leases = (await hA.events(id)).filter((e) => e.type === 'lease.acquired');
      expect(leases).toHaveLength(1);
      byWorker[leases[0]!.data.worker as string]! += 1;
    }
    for (let i = 0; i < 30; i++) {
      expect(sim.requests().filter((r) => r.method === 'POST' && r.path === `/services/svc-${i}/restart`)).toHaveLength(1);
    }
    expect(sim.count('service.restart')).toBe(30);
    // Both took part: the claim query skips what the other holds instead of waiting on it.
    expect(byWorker.wa! + byWorker.wb!).toBe(30);
  });
});

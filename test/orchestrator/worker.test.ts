/** The worker's own behaviour: housekeeping (outbox delivery) does not wait for idleness. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { startSim, type Sim } from '../../src/sim/index.js';

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.close();
});

describeBackends('worker', ({ db }) => {
  it('runs housekeeping while busy, not only when idle', async () => {
    const h = await harness(db(), sim);
    sim.setService('slow-svc', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/slow-svc/restart', holdAfterEffectMs: 1500 });
    const slow = await h.submit('t.restart', { service: 'slow-svc' });
    let sawBusy = false;
    let resolveSeen: () => void;
    const seen = new Promise<void>((r) => (resolveSeen = r));
    const working = h.work({
      housekeepingMs: 10,
      onIdle: async () => {
        // Called while the slow task is still in flight: its restart is held by the API.
        if ((await h.task(slow.id)).state === 'running') {
          sawBusy = true;
          resolveSeen();
        }
      },
    });
    await seen;
    await working;
    expect(sawBusy).toBe(true);
    expect((await h.task(slow.id)).state).toBe('completed');
  });
});

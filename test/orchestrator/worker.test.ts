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
    // What the task was doing each time housekeeping ran: recorded on every path, so the
    // expectation below fails when housekeeping only ever runs once the worker is idle.
    const seenStates: string[] = [];
    await h.work({
      housekeepingMs: 10,
      onIdle: async () => {
        seenStates.push((await h.task(slow.id)).state);
      },
    });
    // Called while the slow task was still in flight (its restart held by the API)...
    expect(seenStates).toContain('running');
    // ... and once more when the worker went idle, after the task completed.
    expect(seenStates.at(-1)).toBe('completed');
    expect((await h.task(slow.id)).state).toBe('completed');
  });
});

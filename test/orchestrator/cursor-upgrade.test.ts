/**
 * Tasks in flight across an upgrade: a task whose cursor was stored in the earlier shape is read
 * and carried on by a worker from where it was. Here, a once charge whose first try may have
 * taken effect, waiting for its retry with its probe due first: the worker probes before
 * charging, and charges exactly once.
 */
import { expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();

describeBackends('a cursor stored in the earlier shape', ({ db }) => {
  it('is carried on from where it was: the probe first, then one charge', async () => {
    const h = await harness(db(), sim());
    const t = await h.submit('t.charge', { order: 'ord_up1', amount: 12 });
    const legacy = { phase: 'probe', probeFirst: true, failures: { transient: 1 }, counters: { 'action:charge': 1 } };
    await db().query(
      `UPDATE tasks SET state = 'retry_scheduled', current_step = 'charge', cursor = $2::jsonb, next_attempt_at = $3, retry_used = 1,
              steps = jsonb_set(steps, '{charge}', '{"status":"in_doubt","attempts":1,"captures":{}}'::jsonb) WHERE id = $1`,
      [t.id, JSON.stringify(legacy), new Date(Date.now() - 1000)],
    );
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('completed');
    const kinds = (await h.attempts(t.id)).map((a) => `${a.kind}#${a.attempt}`);
    expect(kinds).toEqual(['probe#1', 'action#2']);
    expect(sim().count('billing.charge.create')).toBe(1);
    expect(done.cursor).toMatchObject({ v: 2, phase: { at: 'idle' } });
  });
});

/**
 * The outbox under two deliverers and a slow sink: each row is sent once, because each row is
 * claimed at its own time rather than in a batch whose claim lapses behind the slow sends; and
 * a failed delivery is retried first within seconds, then with growing, jittered waits.
 */
import { expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { defaultBackoffMs, deliverDue, DELIVERY_BACKOFF_MS, DEFAULT_MAX_DELIVERY_ATTEMPTS } from '../../src/escalation/outbox-delivery.js';
import { createMasker } from '../../src/secrets/mask.js';
import { listDeliveries } from '../../src/store/outbox.js';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { WEBHOOK_SECRET, WEBHOOK_URL } from './sink-mock.js';

const sim = useSim();

describeBackends('outbox claims', ({ db }) => {
  it('two deliverers and a slow sink send each row once', async () => {
    const h = await harness(db(), sim());
    const config = deploymentConfig({ secrets: h.secrets, sinks: { hook: { name: 'hook', type: 'webhook', url: WEBHOOK_URL, secret: WEBHOOK_SECRET } }, routes: { default: ['hook'] } });
    const masker = createMasker(config.secretValues());
    const esc = escalationHooks({ config, runbooks: h.runbooks, masker });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      sim().setService(`slow-sink-${i}`, { status: 'degraded' });
      sim().fault({ method: 'POST', path: `/services/slow-sink-${i}/restart`, status: 403 });
      ids.push((await h.submit('t.restart', { service: `slow-sink-${i}` })).id);
    }
    await h.work({ hooks: esc.hooks });
    const rows = (await Promise.all(ids.map((id) => listDeliveries(db(), { taskId: id })))).flat();
    expect(rows.map((r) => r.state)).toEqual(ids.map(() => 'pending'));

    // Each send takes 300 ms; a claim holds 500 ms. A batch claimed at once would lapse after the second send.
    const sent: string[] = [];
    const slowFetch: typeof fetch = async (_url, init) => {
      sent.push(String(new Headers(init?.headers).get('webhook-id')));
      await new Promise((r) => setTimeout(r, 300));
      return new Response(null, { status: 204 });
    };
    const pending = async () => (await Promise.all(ids.map((id) => listDeliveries(db(), { taskId: id })))).flat().filter((r) => r.state === 'pending').length;
    const deliverer = () => deliverDue({ db: db(), config, masker, now: new Date(), fetch: slowFetch, claimMs: 500 });

    const first = deliverer();
    // The second deliverer keeps looking for due rows until every row is delivered.
    const second = (async () => {
      while ((await pending()) > 0) {
        await deliverer();
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all([first, second]);

    const perPacket = new Map<string, number>();
    for (const id of sent) perPacket.set(id, (perPacket.get(id) ?? 0) + 1);
    expect([...perPacket.values()]).toEqual(ids.map(() => 1));
    const done = (await Promise.all(ids.map((id) => listDeliveries(db(), { taskId: id })))).flat();
    expect(done.map((r) => [r.state, r.attempts])).toEqual(ids.map(() => ['delivered', 1]));
  });
});

it('retries a failed delivery first within about 5 s, then backs off exponentially with jitter, giving up after about a day', () => {
  const low = () => 0;
  const high = () => 0.999999;
  // The first retry: within about 5 s whatever the jitter.
  expect(defaultBackoffMs(1, low)).toBeGreaterThanOrEqual(4_000);
  expect(defaultBackoffMs(1, high)).toBeLessThanOrEqual(6_000);
  // Each nominal wait is longer than the last until the cap, and the cap holds.
  for (let n = 2; n <= DELIVERY_BACKOFF_MS.length; n++) expect(DELIVERY_BACKOFF_MS[n - 1]).toBeGreaterThan(DELIVERY_BACKOFF_MS[n - 2]!);
  expect(defaultBackoffMs(40, high)).toBeLessThanOrEqual(DELIVERY_BACKOFF_MS.at(-1)! * 1.2);
  // Jitter: two draws of one attempt differ.
  expect(defaultBackoffMs(3, low)).not.toBe(defaultBackoffMs(3, high));
  // Give-up horizon: the nominal waits of every retry before the row is dead, between 20 h and 36 h.
  let total = 0;
  for (let n = 1; n < DEFAULT_MAX_DELIVERY_ATTEMPTS; n++) total += DELIVERY_BACKOFF_MS[Math.min(n, DELIVERY_BACKOFF_MS.length) - 1]!;
  expect(total / 3_600_000).toBeGreaterThan(20);
  expect(total / 3_600_000).toBeLessThan(36);
});

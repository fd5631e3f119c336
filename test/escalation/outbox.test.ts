/**
 * Packets end to end on both backends: a worker escalates a task against the simulated API with
 * the escalation hooks, the packet and its outbox rows land in that transaction, and delivery to
 * the third-party sinks (msw) survives an outage and a restart, posts once when claimed twice,
 * resolves when the task is later closed, and never lets a secret out.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpResponse } from 'msw';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { PAGERDUTY_EVENTS_URL } from '../../src/config/schema.js';
import type { DeploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { deliverDue, type DeliverOptions } from '../../src/escalation/outbox-delivery.js';
import { PacketSchema } from '../../src/escalation/packet-schema.js';
import { approve, complete } from '../../src/orchestrator/operator.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { openDb } from '../../src/store/db.js';
import { claimDeliveries, listDeliveries } from '../../src/store/outbox.js';
import { latestPacket, listPackets } from '../../src/store/packets.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, OPS_TOKEN, type Harness } from '../helpers/harness.js';
import { PD_ROUTING_KEY, SLACK_URL, sinkConfig, useSinkMock, WEBHOOK_URL } from './sink-mock.js';

let sim: Sim;
// The simulated operations API is on loopback and passes through; anything else unmocked fails.
const mock = useSinkMock();
beforeAll(async () => {
  sim = await startSim();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const later = (ms: number) => new Date(Date.now() + ms);

describeBackends('escalation packets and their delivery', ({ db, url, handOff }) => {
  let h: Harness;
  let config: DeploymentConfig;
  let file: string;
  let esc: ReturnType<typeof escalationHooks>;
  let masker: ReturnType<typeof createMasker>;
  beforeEach(async () => {
    h = await harness(db(), sim);
    file = join(await mkdtemp(join(tmpdir(), 'rw-outbox-')), 'packets.jsonl');
    config = sinkConfig(file, { secrets: h.secrets });
    masker = createMasker(config.secretValues());
    esc = escalationHooks({ config, runbooks: h.runbooks, masker });
    // One database per describe: deliver what earlier tests left, so counts are this test's own.
    await deliverDue({ db: db(), config, masker, now: later(365 * 86_400_000), limit: 1000 });
    mock.reset();
  });
  const deliver = (o: Partial<DeliverOptions> = {}) => deliverDue({ db: db(), config, masker, now: new Date(), ...o });
  const actx = () => ({ db: db(), runbooks: h.runbooks, now: new Date(), onAction: esc.onAction });

  /** A task escalated on a permission failure, its packet written by the hooks. */
  async function escalated(service: string) {
    sim.setService(service, { status: 'degraded' });
    sim.fault({ method: 'POST', path: `/services/${service}/restart`, status: 403 });
    const t = await h.submit('t.restart', { service });
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('escalated');
    return t;
  }

  it('writes the packet and one outbox row per sink in the transaction that escalates', async () => {
    const t = await escalated('api-a');
    const row = await latestPacket(db(), t.id);
    expect(row).toMatchObject({ taskId: t.id, reason: 'non_retryable', route: 'platform-oncall', resolvedAt: null });
    const packet = PacketSchema.parse(row!.body);
    expect(packet).toMatchObject({ task: { id: t.id }, state: 'escalated', reason: { kind: 'non_retryable', failureClass: 'permission', step: 'restart' }, recommendation: { action: 'retry' } });
    expect((await listDeliveries(db(), { taskId: t.id })).map((d) => [d.sink, d.kind, d.state])).toEqual([
      ['hook', 'trigger', 'pending'],
      ['pager', 'trigger', 'pending'],
      ['chat', 'trigger', 'pending'],
      ['archive', 'trigger', 'pending'],
    ]);
    const emitted = (await h.events(t.id)).filter((e) => e.type === 'packet.emitted');
    expect(emitted).toEqual([expect.objectContaining({ step: 'restart', data: expect.objectContaining({ packetId: packet.packetId, route: 'platform-oncall', sinks: ['hook', 'pager', 'chat', 'archive'] }) })]);
    const escalatedEvent = (await h.events(t.id)).find((e) => e.type === 'escalated')!;
    expect(emitted[0]!.seq).toBeGreaterThan(escalatedEvent.seq);
  });

  it('delivers after a sink outage: retried with backoff, exactly one successful delivery, each attempt in the ledger', async () => {
    const t = await escalated('api-b');
    mock.answer(PAGERDUTY_EVENTS_URL, 503, 202);
    expect(await deliver()).toEqual({ delivered: 3, retrying: 1, dead: 0 });
    expect(await deliver()).toEqual({ delivered: 0, retrying: 0, dead: 0 }); // not due yet
    expect(await deliver({ now: later(11_000) })).toEqual({ delivered: 1, retrying: 0, dead: 0 });
    expect(await deliver({ now: later(3_600_000) })).toEqual({ delivered: 0, retrying: 0, dead: 0 });
    expect(mock.to(PAGERDUTY_EVENTS_URL)).toHaveLength(2);
    expect(mock.to(WEBHOOK_URL)).toHaveLength(1);
    expect(mock.to(SLACK_URL)).toHaveLength(1);
    expect((await readFile(file, 'utf8')).split('\n').filter((l) => l.includes(`"id":"${t.id}"`))).toHaveLength(1);
    const pager = (await listDeliveries(db(), { taskId: t.id })).find((d) => d.sink === 'pager')!;
    expect(pager).toMatchObject({ state: 'delivered', attempts: 2, lastError: null });
    const attempts = (await h.events(t.id)).filter((e) => e.type === 'packet.delivery' && e.data.sink === 'pager').map((e) => e.data);
    expect(attempts).toEqual([
      expect.objectContaining({ attempt: 1, ok: false, status: 503, sinkType: 'pagerduty', nextAttemptAt: expect.any(String) }),
      expect.objectContaining({ attempt: 2, ok: true, status: 202 }),
    ]);
  });

  it('delivers after a restart between escalation and delivery', async () => {
    const t = await escalated('api-c');
    await handOff(async () => {
      const reopened = await openDb(url());
      try {
        expect(await deliverDue({ db: reopened, config, masker, now: new Date() })).toEqual({ delivered: 4, retrying: 0, dead: 0 });
      } finally {
        await reopened.close();
      }
    });
    expect((await listDeliveries(db(), { taskId: t.id })).every((d) => d.state === 'delivered')).toBe(true);
    expect(JSON.parse(mock.to(WEBHOOK_URL)[0]!.body).data.task.id).toBe(t.id);
  });

  it('posts once when a delivery is claimed twice', async () => {
    const t = await escalated('api-d');
    const [a, b] = await Promise.all([deliver(), deliver()]);
    expect(a.delivered + b.delivered).toBe(4);
    expect(mock.to(WEBHOOK_URL)).toHaveLength(1);
    expect(mock.to(PAGERDUTY_EVENTS_URL)).toHaveLength(1);
    // A row under claim is not handed out again until its claim runs out.
    const u = await escalated('api-e');
    const first = await claimDeliveries(db(), { now: new Date(), leaseMs: 30_000, limit: 10 });
    expect(first.map((r) => r.taskId)).toEqual([u.id, u.id, u.id, u.id]);
    expect(await claimDeliveries(db(), { now: new Date(), leaseMs: 30_000, limit: 10 })).toEqual([]);
    expect((await claimDeliveries(db(), { now: later(31_000), leaseMs: 30_000, limit: 10 })).map((r) => r.attempts)).toEqual([2, 2, 2, 2]);
    expect((await h.events(t.id)).filter((e) => e.type === 'packet.delivery')).toHaveLength(4);
  });

  it('resolves the alert when an escalated task is later completed, after its trigger', async () => {
    const t = await escalated('api-f');
    await complete(actx(), t.id, { operator: 'ana', reason: 'restarted by hand' });
    expect((await latestPacket(db(), t.id))!.resolvedAt).toBeInstanceOf(Date);
    expect((await listDeliveries(db(), { taskId: t.id })).filter((d) => d.kind === 'resolve').map((d) => d.sink)).toEqual(['hook', 'pager', 'chat']);
    await deliver();
    const events = mock.to(PAGERDUTY_EVENTS_URL).map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string });
    expect(events.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ['trigger', t.id],
      ['resolve', t.id],
    ]);
    expect(JSON.parse(mock.to(WEBHOOK_URL)[1]!.body)).toMatchObject({ type: 'escalation.resolved', data: { taskId: t.id, state: 'completed' } });
  });

  it('an approval request goes out as a packet and is resolved by the approval', async () => {
    const t = await h.submit('t.approval', { order: 'o-big', amount: 5000 });
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('awaiting_approval');
    const packet = PacketSchema.parse((await latestPacket(db(), t.id))!.body);
    expect(packet).toMatchObject({ state: 'awaiting_approval', reason: { kind: 'approval_required', step: 'invoice' }, route: 'finance', recommendation: { action: 'approve' }, allowedActions: ['approve', 'deny', 'cancel'] });
    await approve(actx(), t.id, { operator: 'ana', reason: 'amount confirmed' });
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('completed');
    expect((await listPackets(db(), t.id)).map((p) => [p.reason, p.resolvedAt !== null])).toEqual([['approval_required', true]]);
  });

  it('masks secrets an API echoes back: the Authorization header in a packet, a routing key in a sink error', async () => {
    sim.setService('api-g', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/api-g/restart', status: 400, echoHeaders: true });
    const t = await h.submit('t.restart', { service: 'api-g' });
    // The worker records without masking here, so only the packet's own masking stands between
    // the echoed token and the responder.
    await h.work({ hooks: esc.hooks, mask: (v) => v });
    const stored = JSON.stringify((await h.attempts(t.id)).map((a) => a.result));
    expect(stored).toContain(OPS_TOKEN);
    const body = JSON.stringify((await latestPacket(db(), t.id))!.body);
    expect(body).toContain('invalid_input');
    expect(body).not.toContain(OPS_TOKEN);
    expect(body).toContain('Bearer ***');

    mock.answer(PAGERDUTY_EVENTS_URL, () => HttpResponse.json({ status: 'invalid event', errors: [`routing_key ${PD_ROUTING_KEY} is not active`] }, { status: 400 }));
    expect(await deliver()).toEqual({ delivered: 3, retrying: 0, dead: 1 });
    for (const r of mock.requests) expect(r.body).not.toContain(OPS_TOKEN);
    expect(await readFile(file, 'utf8')).not.toContain(OPS_TOKEN);
    const pager = (await listDeliveries(db(), { taskId: t.id })).find((d) => d.sink === 'pager')!;
    expect(pager).toMatchObject({ state: 'dead', lastError: expect.stringContaining('routing_key *** is not active') });
    const ledger = JSON.stringify((await h.events(t.id)).filter((e) => e.type.startsWith('packet.')));
    expect(ledger).not.toContain(PD_ROUTING_KEY);
    expect(ledger).not.toContain(SLACK_URL);
  });
});

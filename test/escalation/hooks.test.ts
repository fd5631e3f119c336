/**
 * What the hooks do to open packets as a task moves on: a takeover refreshes the packet, a
 * denial escalates with a new one, a resumed task that then completes resolves its packet at the
 * sinks, and a partial completion's packet stays open (it reports the end).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DeploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { PacketSchema } from '../../src/escalation/packet-schema.js';
import { deny, resume, takeover } from '../../src/orchestrator/operator.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { listDeliveries } from '../../src/store/outbox.js';
import { listPackets } from '../../src/store/packets.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, type Harness } from '../helpers/harness.js';
import { sinkConfig } from './sink-mock.js';

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());

describeBackends('escalation hooks', ({ db }) => {
  let h: Harness;
  let config: DeploymentConfig;
  let esc: ReturnType<typeof escalationHooks>;
  beforeEach(async () => {
    h = await harness(db(), sim);
    config = sinkConfig(join(await mkdtemp(join(tmpdir(), 'rw-hooks-')), 'p.jsonl'), { secrets: h.secrets, routes: { default: ['pager', 'archive'], finance: ['hook'] } });
    esc = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
  });
  const actx = () => ({ db: db(), runbooks: h.runbooks, now: new Date(), onAction: esc.onAction });
  const who = { operator: 'ana', reason: 'checked' };

  it('a takeover refreshes the open packet: state and allowed actions as they are now', async () => {
    sim.setService('h-a', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/h-a/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'h-a' });
    await h.work({ hooks: esc.hooks });
    const before = PacketSchema.parse((await listPackets(db(), t.id))[0]!.body);
    await takeover(actx(), t.id, who);
    const [row] = await listPackets(db(), t.id);
    const after = PacketSchema.parse(row!.body);
    expect(after).toMatchObject({ packetId: before.packetId, createdAt: before.createdAt, state: 'in_handover', route: before.route, reason: before.reason });
    expect(after.allowedActions).not.toContain('takeover');
    expect(after.recommendation.action).not.toBe('takeover');
    expect(row!.resolvedAt).toBeNull();
  });

  it('a denied approval resolves the approval packet and escalates with a new one', async () => {
    const t = await h.submit('t.approval', { order: 'o-deny', amount: 7000 });
    await h.work({ hooks: esc.hooks });
    await deny(actx(), t.id, { operator: 'ana', reason: 'customer did not confirm' });
    const packets = await listPackets(db(), t.id);
    expect(packets.map((p) => [p.reason, p.route, p.resolvedAt !== null])).toEqual([
      ['approval_required', 'finance', true],
      ['non_retryable', 'billing-oncall', false],
    ]);
    expect(PacketSchema.parse(packets[1]!.body)).toMatchObject({ state: 'escalated', reason: { message: expect.stringContaining('denied by ana') } });
    // The approval went to the finance webhook; its resolve follows it there.
    expect((await listDeliveries(db(), { taskId: t.id })).map((d) => [d.sink, d.kind])).toEqual([
      ['hook', 'trigger'],
      ['hook', 'resolve'],
      ['pager', 'trigger'],
      ['archive', 'trigger'],
    ]);
  });

  it('a resumed task that then completes resolves its packet at the sinks that understand a resolve', async () => {
    sim.setService('h-c', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/h-c/restart', status: 502, times: 3 });
    const t = await h.submit('t.restart', { service: 'h-c' });
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('escalated');
    await resume(actx(), t.id, who);
    expect((await listPackets(db(), t.id))[0]!.resolvedAt).toBeNull(); // resumed is not done yet
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('completed');
    expect((await listPackets(db(), t.id))[0]!.resolvedAt).toBeInstanceOf(Date);
    expect((await listDeliveries(db(), { taskId: t.id })).map((d) => [d.sink, d.kind])).toEqual([
      ['pager', 'trigger'],
      ['archive', 'trigger'],
      ['pager', 'resolve'],
    ]);
  });

  it("a partial completion's packet goes out and stays open", async () => {
    sim.fault({ method: 'POST', path: '/email/messages', status: 400 });
    const t = await h.submit('t.onboard', { customer: 'h-partial', plan: 'basic' });
    await h.work({ hooks: esc.hooks });
    expect((await h.task(t.id)).state).toBe('partially_completed');
    const [p] = await listPackets(db(), t.id);
    expect(p).toMatchObject({ reason: 'partial_completion', resolvedAt: null });
    expect(PacketSchema.parse(p!.body)).toMatchObject({ state: 'partially_completed', allowedActions: [], recommendation: { action: null } });
    expect((await listDeliveries(db(), { taskId: t.id })).map((d) => d.kind)).toEqual(['trigger', 'trigger']);
  });
});

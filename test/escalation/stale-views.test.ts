/**
 * What is shown must not outlive what it shows: a packet read after its task moved on says what
 * the task is now, since when and by whom; a step's note is that of the attempt it came from, so a
 * step that succeeded on its second try does not show the first try's error.
 */
import { expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { packetNow, packetNowLine } from '../../src/escalation/packet-now.js';
import { readPacket } from '../../src/escalation/packet-schema.js';
import { renderPacketMarkdown } from '../../src/escalation/render-markdown.js';
import { payloadFor } from '../../src/escalation/sink-payloads.js';
import { pagerdutyRequest, slackRequest } from '../../src/escalation/sink-payloads.js';
import { retry, skip } from '../../src/orchestrator/operator.js';
import { createMasker } from '../../src/secrets/mask.js';
import { latestPacket } from '../../src/store/packets.js';
import { readTaskView } from '../../src/store/task-view.js';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();

describeBackends('views that do not go stale', ({ db }) => {
  it('a step that succeeded after a failed attempt shows no note from the failure', async () => {
    const h = await harness(db(), sim());
    sim().setService('note-svc', { status: 'degraded' });
    // Refused once for good: the task escalates with the error as the step's note.
    sim().fault({ method: 'POST', path: '/services/note-svc/restart', times: 1, status: 403, body: { error: 'forbidden' } });
    const t = await h.submit('t.restart', { service: 'note-svc' });
    await h.work();
    const failed = await readTaskView(db(), t.id, (id) => h.runbooks.byId.get(id));
    expect(failed?.state).toBe('escalated');
    expect(failed!.steps.find((s) => s.id === 'restart')!.note).toMatch(/403/);
    // A responder fixes the permission and retries: the second attempt succeeds.
    await retry({ db: db(), runbooks: h.runbooks, now: new Date() }, t.id, { operator: 'ana', reason: 'permission fixed' });
    await h.work();
    const view = await readTaskView(db(), t.id, (id) => h.runbooks.byId.get(id));
    expect(view?.state).toBe('completed');
    expect(view!.steps.find((s) => s.id === 'restart')).toMatchObject({ status: 'succeeded', attempts: 2, note: null });
    // The failure is still in the record: in the ledger, where it belongs.
    expect(JSON.stringify(view!.events)).toContain('403');
  });

  it('a packet read after its task was skipped to completion says so: state now, since when, by whom', async () => {
    const h = await harness(db(), sim());
    const config = deploymentConfig({ secrets: h.secrets });
    const rt = { config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) };
    const esc = escalationHooks(rt);
    sim().setService('stale-svc', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/stale-svc/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'stale-svc' }, { externalRef: 'INC-STALE' });
    await h.work({ hooks: esc.hooks });
    const row = (await latestPacket(db(), t.id))!;
    const packet = readPacket(row.body);
    expect(packet.state).toBe('escalated');
    // Current: nothing to say.
    expect(packetNow(packet, await h.task(t.id), await h.events(t.id))).toBeUndefined();
    expect(renderPacketMarkdown(packet)).toContain('Allowed now: takeover, resume, retry');

    // The skip hands the task back; the worker carries it to the end.
    await skip({ db: db(), runbooks: h.runbooks, now: new Date(), ...esc }, t.id, { operator: 'ana', reason: 'restarted by hand' });
    await h.work({ hooks: esc.hooks });
    const task = await h.task(t.id);
    expect(task.state).toBe('completed');
    const now = packetNow(packet, task, await h.events(t.id))!;
    expect(now).toMatchObject({ state: 'completed', by: expect.stringMatching(/^(runwarden|worker:)/), action: { name: 'skip', operator: 'ana', reason: 'restarted by hand' }, allowed: [] });
    const md = renderPacketMarkdown(packet, now);
    expect(md.split('\n')[0]).toMatch(/^> \*\*The task has moved on: it is completed now since .* UTC, by \S+, after `skip` by ana \(restarted by hand\)\.\*\* This packet is from .*, when it was escalated\. No action is allowed now: the task is closed\.$/);
    expect(md).not.toContain('Allowed now: takeover');
    expect(md).toContain('Allowed when this packet was written: takeover, resume, retry');
    expect(packetNowLine(packet, now)).toMatch(/when the task was escalated; the task is completed now, since .*, by \S+, after skip by ana \(restarted by hand\)$/);
  });

  it('the body each sink type receives is what delivery sends, credentials aside', async () => {
    const h = await harness(db(), sim());
    const config = deploymentConfig({ secrets: h.secrets });
    const esc = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
    sim().setService('body-svc', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/body-svc/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'body-svc' });
    await h.work({ hooks: esc.hooks });
    const packet = readPacket((await latestPacket(db(), t.id))!.body);
    const d = { kind: 'trigger' as const, packet };
    expect(payloadFor('slack', packet, new Date())).toBe(slackRequest({ name: 's', type: 'slack', url: 'https://hooks.slack.test/x' }, d).body);
    const pd = JSON.parse(payloadFor('pagerduty', packet, new Date())) as Record<string, unknown>;
    expect(pd).toEqual({ ...JSON.parse(pagerdutyRequest({ name: 'p', type: 'pagerduty', routingKey: 'real-key-123', url: 'https://x' }, d).body), routing_key: '***' });
    const now = new Date('2026-05-01T00:00:00Z');
    expect(JSON.parse(payloadFor('webhook', packet, now))).toEqual({ type: 'escalation.packet', timestamp: now.toISOString(), data: JSON.parse(JSON.stringify(packet)) });
  });
});

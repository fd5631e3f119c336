/**
 * Each sink's payload and signature, as the third party receives it (msw; unhandled requests
 * fail the test), and how an answer is classified: delivered, retry later, refused for good.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpResponse } from 'msw';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PAGERDUTY_EVENTS_URL } from '../../src/config/schema.js';
import { buildPacket } from '../../src/escalation/build-packet.js';
import type { Packet } from '../../src/escalation/packet-schema.js';
import { pagerdutyRequest, slackRequest, type Delivery } from '../../src/escalation/sink-payloads.js';
import { sendToSink } from '../../src/escalation/sink-send.js';
import { verifyWebhook } from '../../src/escalation/webhook-signature.js';
import { caseInput, T0 } from './cases.js';
import { PD_ROUTING_KEY, SLACK_URL, sinkConfig, sinkMock, WEBHOOK_SECRET, WEBHOOK_URL } from './sink-mock.js';

const mock = sinkMock();
beforeAll(() => mock.server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => mock.server.close());
beforeEach(() => mock.reset());
afterEach(() => expect(mock.unhandled).toEqual([]));

const NOW = new Date(T0.getTime() + 60_000);
let packet: Packet;
let filePath: string;
beforeAll(async () => {
  packet = buildPacket({ ...(await caseInput('verification_failed')), publicUrl: 'https://runwarden.example.test/' });
  filePath = join(await mkdtemp(join(tmpdir(), 'rw-sink-')), 'out', 'packets.jsonl');
});
const config = () => sinkConfig(filePath);
const trigger = (): Delivery => ({ kind: 'trigger', packet });
const resolve = (): Delivery => ({ kind: 'resolve', packet, state: 'completed', resolvedAt: NOW.toISOString() });

describe('webhook sink', () => {
  it('POSTs the packet in a Standard Webhooks envelope, signed over the exact body', async () => {
    expect(await sendToSink(config().sinks.hook!, trigger(), { now: NOW })).toEqual({ ok: true, status: 204 });
    const [req] = mock.to(WEBHOOK_URL);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['webhook-id']).toBe(packet.packetId);
    expect(req!.headers['webhook-timestamp']).toBe(String(Math.floor(NOW.getTime() / 1000)));
    // Recompute the HMAC by hand: key = base64-decoded part after whsec_, content = id.timestamp.body.
    const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${packet.packetId}.${req!.headers['webhook-timestamp']}.${req!.body}`).digest('base64');
    expect(req!.headers['webhook-signature']).toBe(`v1,${mac}`);
    expect(JSON.parse(req!.body)).toEqual({ type: 'escalation.packet', timestamp: NOW.toISOString(), data: JSON.parse(JSON.stringify(packet)) });
    expect(verifyWebhook({ headers: req!.headers, body: req!.body, secret: WEBHOOK_SECRET, now: NOW })).toBe(true);
    expect(verifyWebhook({ headers: req!.headers, body: req!.body.replace('restart', 'rEstart'), secret: WEBHOOK_SECRET, now: NOW })).toBe(false);
    expect(verifyWebhook({ headers: req!.headers, body: req!.body, secret: WEBHOOK_SECRET, now: new Date(NOW.getTime() + 600_000) })).toBe(false);
  });

  it('announces the resolve under its own message id', async () => {
    await sendToSink(config().sinks.hook!, resolve(), { now: NOW });
    const [req] = mock.to(WEBHOOK_URL);
    expect(req!.headers['webhook-id']).toBe(`${packet.packetId}_resolve`);
    expect(JSON.parse(req!.body)).toMatchObject({ type: 'escalation.resolved', data: { packetId: packet.packetId, taskId: packet.task.id, state: 'completed' } });
    expect(verifyWebhook({ headers: req!.headers, body: req!.body, secret: WEBHOOK_SECRET, now: NOW })).toBe(true);
  });
});

describe('pagerduty sink', () => {
  it('triggers an Events API v2 alert deduplicated by task id', async () => {
    expect(await sendToSink(config().sinks.pager!, trigger(), { now: NOW })).toEqual({ ok: true, status: 202 });
    const event = JSON.parse(mock.to(PAGERDUTY_EVENTS_URL)[0]!.body);
    expect(event).toEqual({
      routing_key: PD_ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: packet.task.id,
      client: 'runwarden',
      client_url: `https://runwarden.example.test/tasks/${packet.task.id}`,
      payload: {
        summary: `Verification failed: ${packet.summary}`,
        source: 'service-restart',
        severity: 'error',
        timestamp: packet.createdAt,
        component: 'restart',
        group: 'service-owner',
        class: 'verification_failed',
        custom_details: expect.objectContaining({
          packet_id: packet.packetId,
          next_action: 'takeover',
          commands: packet.recommendation.commands,
          changed: [{ step: 'restart', system: 'ops', effect: 'applied', ids: { restartId: 'rst_991' } }],
        }),
      },
      links: [{ href: `https://runwarden.example.test/tasks/${packet.task.id}`, text: 'Task in runwarden' }],
    });
  });

  it('resolves the same alert when the task later completes', async () => {
    await sendToSink(config().sinks.pager!, resolve(), { now: NOW });
    expect(JSON.parse(mock.to(PAGERDUTY_EVENTS_URL)[0]!.body)).toEqual({ routing_key: PD_ROUTING_KEY, event_action: 'resolve', dedup_key: packet.task.id });
  });
});

describe('slack sink', () => {
  it('posts a Block Kit message with links, not buttons', async () => {
    expect(await sendToSink(config().sinks.chat!, trigger(), { now: NOW })).toEqual({ ok: true, status: 200 });
    const msg = JSON.parse(mock.to(SLACK_URL)[0]!.body) as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string }; fields?: unknown[]; elements?: Array<{ text: string }> }> };
    expect(msg.text).toBe(`Verification failed: ${packet.summary}`);
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'section', 'context']);
    expect(msg.blocks[0]!.text).toEqual({ type: 'plain_text', text: 'Verification failed: INC-4203', emoji: true });
    expect(msg.blocks[3]!.text!.text).toContain('*restart* in ops: done (restartId `rst_991`)');
    expect(msg.blocks[4]!.text!.text).toMatch(/^\*Next: takeover\*\n/);
    expect(msg.blocks[5]!.text!.text).toBe(`\`\`\`${packet.recommendation.commands.join('\n').replace(/</g, '&lt;').replace(/>/g, '&gt;')}\`\`\``);
    expect(msg.blocks[6]!.elements![0]!.text).toContain(`<https://runwarden.example.test/tasks/${packet.task.id}|Open task>`);
    const raw = mock.to(SLACK_URL)[0]!.body;
    expect(raw).not.toContain('"button"');
    expect(raw).not.toContain('"actions"');
    for (const b of msg.blocks) if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('says when the task was resolved', async () => {
    await sendToSink(config().sinks.chat!, resolve(), { now: NOW });
    expect(JSON.parse(mock.to(SLACK_URL)[0]!.body).text).toBe(`Resolved: INC-4203 is now completed (${packet.summary})`);
  });
});

describe("a schedule's silent-failure packet", () => {
  it('is its own alert at PagerDuty (keyed by the schedule, not the run it hangs on), and its resolve says the schedule recovered', async () => {
    const silent = buildPacket(await caseInput('silent_failure'));
    const sinks = config().sinks;
    const pager = sinks.pager as Parameters<typeof pagerdutyRequest>[0];
    expect(JSON.parse(pagerdutyRequest(pager, { kind: 'trigger', packet: silent }).body)).toMatchObject({ event_action: 'trigger', dedup_key: 'schedule:service-restart' });
    const done: Delivery = { kind: 'resolve', packet: silent, state: 'escalated', resolvedAt: NOW.toISOString() };
    expect(JSON.parse(pagerdutyRequest(pager, done).body)).toEqual({ routing_key: PD_ROUTING_KEY, event_action: 'resolve', dedup_key: 'schedule:service-restart' });
    // The run it hung on may still be escalated: the follow-up speaks of the schedule.
    expect(JSON.parse(slackRequest(sinks.chat as Parameters<typeof slackRequest>[0], done).body).text).toBe(`Resolved: service-restart has a completed run again (${silent.summary})`);
  });
});

describe("a model's advice", () => {
  it('reaches PagerDuty and Slack labelled as the model\'s, beside the rule text', () => {
    const advice = { text: 'The restart ran, yet health still reads <degraded> after 2m.', model: 'm-1', at: NOW.toISOString() };
    const d: Delivery = { kind: 'trigger', packet: { ...packet, recommendation: { ...packet.recommendation, advice } } };
    const sinks = config().sinks;
    const pd = JSON.parse(pagerdutyRequest(sinks.pager as Parameters<typeof pagerdutyRequest>[0], d).body);
    expect(pd.payload.custom_details).toMatchObject({ why: packet.recommendation.why, model_advice: { text: advice.text, model: 'm-1' }, next_action: packet.recommendation.action });
    const next = JSON.parse(slackRequest(sinks.chat as Parameters<typeof slackRequest>[0], d).body).blocks[4].text.text as string;
    expect(next).toContain('_Suggested wording by the model m-1:_ The restart ran, yet health still reads &lt;degraded&gt; after 2m.');
    expect(next.indexOf(packet.recommendation.why.slice(0, 30))).toBeLessThan(next.indexOf('Suggested wording'));
    // No advice asked, or none given: nothing about a model.
    for (const p of [packet, { ...packet, recommendation: { ...packet.recommendation, advice: null } }]) {
      expect(pagerdutyRequest(sinks.pager as Parameters<typeof pagerdutyRequest>[0], { kind: 'trigger', packet: p }).body).not.toContain('model_advice');
      expect(slackRequest(sinks.chat as Parameters<typeof slackRequest>[0], { kind: 'trigger', packet: p }).body).not.toContain('Suggested wording');
    }
  });
});

describe('file sink', () => {
  it('appends the packet as one JSON line, once however often it is delivered', async () => {
    const sink = config().sinks.archive!;
    expect(await sendToSink(sink, trigger(), { now: NOW })).toEqual({ ok: true, status: null });
    expect(await sendToSink(sink, trigger(), { now: NOW })).toEqual({ ok: true, status: null, skipped: 'duplicate' });
    const lines = (await readFile(filePath, 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l))).toEqual([JSON.parse(JSON.stringify(packet))]);
  });
});

describe('answers', () => {
  it('retries outages, rate limits and network errors; refuses what retrying cannot fix', async () => {
    const hook = config().sinks.hook!;
    mock.answer(WEBHOOK_URL, 503, 429, () => HttpResponse.error(), 400, () => new HttpResponse('slow down', { status: 429, headers: { 'retry-after': '120' } }));
    expect(await sendToSink(hook, trigger(), { now: NOW })).toMatchObject({ ok: false, retryable: true, status: 503, error: 'HTTP 503: {"error":"status 503"}' });
    expect(await sendToSink(hook, trigger(), { now: NOW })).toMatchObject({ ok: false, retryable: true, status: 429 });
    expect(await sendToSink(hook, trigger(), { now: NOW })).toMatchObject({ ok: false, retryable: true, status: null, error: expect.stringMatching(/^cannot reach the sink/) });
    expect(await sendToSink(hook, trigger(), { now: NOW })).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect(await sendToSink(hook, trigger(), { now: NOW })).toMatchObject({ ok: false, retryable: true, retryAfterMs: 120_000 });
  });
});

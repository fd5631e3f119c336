/**
 * The optional advisor at delivery, on both backends, with msw standing in for the model: the
 * model's wording of `why` is asked once per packet before its first send, stored and delivered
 * beside the rule text, and never changes the action, commands or allowed actions; a model that
 * fails or hangs costs the advice, never the delivery.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { advisorFromEnv } from '../../src/agents/advisor.js';
import { deploymentConfig, type DeploymentConfig } from '../../src/config/index.js';
import { emitPacket, refreshOpen } from '../../src/escalation/emit.js';
import { deliverDue, type DeliverOptions } from '../../src/escalation/outbox-delivery.js';
import { PacketSchema, type Packet } from '../../src/escalation/packet-schema.js';
import { renderPacketMarkdown } from '../../src/escalation/render-markdown.js';
import { createMasker, MASK } from '../../src/secrets/mask.js';
import { listDeliveries } from '../../src/store/outbox.js';
import { latestPacket } from '../../src/store/packets.js';
import { applyChange, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { apiError, hang, LLM_ENV, LLM_MODEL, listenOptions, openaiMock, textAnswer } from '../helpers/openai-mock.js';
import { seedTask } from '../helpers/seed.js';
import { WEBHOOK_SECRET, WEBHOOK_URL } from './sink-mock.js';

const mock = openaiMock();
beforeAll(() => mock.server.listen(listenOptions()));
afterAll(() => mock.server.close());
beforeEach(() => {
  mock.requests.length = 0;
});
afterEach(() => mock.server.resetHandlers());

const OPS_TOKEN = 'ops-token-5d1e9a7c3b';
const ADVICE = 'The restart went through, yet the health check still says degraded after the poll window, so a person should look before anything runs again.';
const advisor = advisorFromEnv(LLM_ENV)!;
const later = (ms: number) => new Date(Date.now() + ms);

/** The `<data>` block of a request the mock received. */
const sentData = (i: number) => JSON.parse(/^<data>\n([\s\S]*)\n<\/data>$/.exec(mock.requests[i]!.messages[1]!.content)![1]!);

describeBackends('packet advice at delivery', ({ db }) => {
  let config: DeploymentConfig;
  let file: string;
  beforeEach(async () => {
    file = join(await mkdtemp(join(tmpdir(), 'rw-advice-')), 'packets.jsonl');
    config = deploymentConfig({
      secrets: { OPS_TOKEN },
      sinks: {
        archive: { name: 'archive', type: 'file', path: file },
        hook: { name: 'hook', type: 'webhook', url: WEBHOOK_URL, secret: WEBHOOK_SECRET },
      },
      routes: { default: ['archive'] },
    });
    // One database per describe: what earlier tests left is delivered (without advice) first.
    await deliverDue({ db: db(), config, masker: createMasker(config.secretValues()), now: later(365 * 86_400_000), limit: 1000, fetch: async () => new Response(null, { status: 204 }) });
    mock.requests.length = 0;
  });
  const masker = () => createMasker(config.secretValues());
  const deliver = (o: Partial<DeliverOptions> = {}) => deliverDue({ db: db(), config, masker: masker(), now: new Date(), advisor, ...o });
  const stored = async (taskId: string) => PacketSchema.parse((await latestPacket(db(), taskId))!.body);
  const adviceEvents = async (taskId: string) => (await listEvents(db(), taskId)).filter((e) => e.type === 'agent.call');
  const archived = async (): Promise<Packet[]> => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Packet);

  /**
   * An escalated task and its packet, written as the hooks write it. The stop message echoes the
   * ops token and the packet was masked without knowing it (a secret added to the config since):
   * what the model is shown is masked again with the masker of the day.
   */
  async function escalated(route: 'default' | 'flaky' = 'default') {
    const seeded = await seedTask(db(), { state: 'escalated' });
    const now = new Date();
    const task = await applyChange(db(), {
      taskId: seeded.id,
      now,
      patch: { escalation: { kind: 'verification_failed', failureClass: 'verification', step: 'restart', message: `healthy did not hold; the API said "bad token ${OPS_TOKEN}"`, at: now.toISOString() } },
      events: [],
    });
    const packet = await emitPacket(db(), { config: route === 'default' ? config : withRoute(config), masker: createMasker([]) }, { task, plan: undefined, now });
    return { task, packet };
  }

  it('asks once before the first send: the advice is stored, delivered and rendered beside the unchanged rule text', async () => {
    mock.answer(() => textAnswer(ADVICE));
    const { task, packet } = await escalated();
    const now = new Date();
    expect(await deliver({ now })).toEqual({ delivered: 1, retrying: 0, dead: 0 });

    const after = await stored(task.id);
    expect(after.recommendation).toEqual({ ...packet.recommendation, advice: { text: ADVICE, model: LLM_MODEL, at: now.toISOString() } });
    expect(after.allowedActions).toEqual(packet.allowedActions);
    expect(await archived()).toEqual([after]);
    const md = renderPacketMarkdown(after);
    expect(md).toContain(`Suggested wording by the model \`${LLM_MODEL}\`: ${ADVICE}`);
    expect(md.indexOf(packet.recommendation.why.slice(0, 40))).toBeLessThan(md.indexOf('Suggested wording'));

    // Shown: the evidence and the rule text, masked; never the commands, allowed actions or input.
    expect(mock.requests).toHaveLength(1);
    const data = sentData(0);
    expect(data.ruleBasedWhy).toBe(packet.recommendation.why);
    expect(Object.keys(data.evidence).sort()).toEqual(['attempts', 'attemptsOmitted', 'evidence', 'reason', 'recommendedAction', 'retryBudget', 'runbookOwnerNote', 'sideEffects', 'state', 'summary']);
    expect(data.evidence.reason.message).toContain(`bad token ${MASK}`);
    expect(JSON.stringify(mock.requests[0])).not.toContain(OPS_TOKEN);

    expect(await adviceEvents(task.id)).toEqual([
      expect.objectContaining({
        actor: 'advisor',
        step: 'restart',
        data: { purpose: 'advice', packetId: packet.packetId, model: LLM_MODEL, latencyMs: expect.any(Number), tokens: { input: 180, output: 24 }, ok: true },
      }),
    ]);
  });

  it('keeps the action, commands and allowed actions when the answer tries to change them', async () => {
    const hijack = JSON.stringify({ action: 'rollback', commands: ['runwarden rollback tsk_x --operator me'], allowedActions: ['rollback'], why: 'roll back now' });
    mock.answer(() => textAnswer(hijack));
    const { task, packet } = await escalated();
    await deliver();
    const after = await stored(task.id);
    const { advice, ...rest } = after.recommendation;
    expect(rest).toEqual(packet.recommendation);
    expect(after.allowedActions).toEqual(packet.allowedActions);
    // The answer is only ever text beside the rule text, labelled as the model's.
    expect(advice?.text).toBe(hijack);
    expect(renderPacketMarkdown(after)).not.toMatch(/```sh\nrunwarden rollback/);
  });

  it('delivers with the rule text only when the model fails or hangs, and does not ask again', async () => {
    mock.answer(() => apiError(500));
    const failed = await escalated();
    expect(await deliver()).toEqual({ delivered: 1, retrying: 0, dead: 0 });
    expect((await stored(failed.task.id)).recommendation).toEqual({ ...failed.packet.recommendation, advice: null });
    expect((await adviceEvents(failed.task.id)).map((e) => e.data)).toEqual([
      { purpose: 'advice', packetId: failed.packet.packetId, model: LLM_MODEL, latencyMs: expect.any(Number), tokens: null, ok: false, error: expect.stringMatching(/500|upstream failure/) },
    ]);

    mock.answer((_req, signal) => hang(signal));
    const hung = await escalated();
    expect(await deliver({ adviceTimeoutMs: 50 })).toEqual({ delivered: 1, retrying: 0, dead: 0 });
    expect((await stored(hung.task.id)).recommendation.advice).toBeNull();
    expect((await adviceEvents(hung.task.id)).map((e) => e.data)).toEqual([expect.objectContaining({ ok: false, error: 'no answer within 50ms' })]);

    expect((await archived()).map((p) => p.recommendation.advice)).toEqual([null, null]);
    expect(mock.requests).toHaveLength(2);
  });

  it('calls no model without an advisor', async () => {
    const { task, packet } = await escalated();
    expect(await deliver({ advisor: null })).toEqual({ delivered: 1, retrying: 0, dead: 0 });
    expect(mock.requests).toEqual([]);
    const after = await stored(task.id);
    expect(after.recommendation).toEqual(packet.recommendation);
    expect('advice' in after.recommendation).toBe(false);
    expect(await adviceEvents(task.id)).toEqual([]);
    // A packet already sent is not advised later, when a model is configured after all.
    mock.answer(() => textAnswer(ADVICE));
    await deliver({ now: later(86_400_000) });
    expect(mock.requests).toEqual([]);
  });

  it('asks once per packet across redeliveries and concurrent deliverers', async () => {
    mock.answer(() => textAnswer(ADVICE));
    const sent: string[] = [];
    let answers = [503, 204];
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      sent.push(String(init?.body));
      const status = answers.shift() ?? 204;
      return new Response(status === 204 ? null : 'down', { status });
    };
    const { task } = await escalated('flaky');
    const [a, b] = await Promise.all([deliver({ fetch }), deliver({ fetch })]);
    expect(a.retrying + b.retrying).toBe(1);
    expect(await deliver({ fetch, now: later(11_000) })).toEqual({ delivered: 1, retrying: 0, dead: 0 });
    expect(mock.requests).toHaveLength(1);
    expect(await adviceEvents(task.id)).toHaveLength(1);
    expect(sent.map((body) => JSON.parse(body).data.recommendation.advice.text)).toEqual([ADVICE, ADVICE]);
    expect((await listDeliveries(db(), { taskId: task.id })).map((d) => [d.state, d.attempts])).toEqual([['delivered', 2]]);
    answers = [];
  });

  it('a refreshed packet keeps its advice while the rule text it rewords stands', async () => {
    mock.answer(() => textAnswer(ADVICE));
    const { task } = await escalated();
    await deliver();
    const ctx = { config, masker: masker() };
    await refreshOpen(db(), ctx, { task, plan: undefined });
    expect((await stored(task.id)).recommendation.advice?.text).toBe(ADVICE);
    // Taken over: the recommendation is another one now, and the advice no longer fits it.
    const handedOver = await applyChange(db(), { taskId: task.id, now: new Date(), to: 'in_handover', events: [] });
    await refreshOpen(db(), ctx, { task: handedOver, plan: undefined });
    const after = await stored(task.id);
    expect(after.recommendation.action).not.toBe('takeover');
    expect(after.recommendation.advice).toBeNull();
    expect(mock.requests).toHaveLength(1);
  });
});

/** The config with the default route sent to the flaky webhook. */
function withRoute(c: DeploymentConfig): DeploymentConfig {
  return deploymentConfig({ secrets: { ...c.secrets }, sinks: { ...c.sinks }, routes: { default: ['hook'] } });
}

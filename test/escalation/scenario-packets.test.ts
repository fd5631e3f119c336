/**
 * The packet of every escalation scenario the orchestrator runs (each reason kind a real run can
 * reach against the simulated API) validates against the published JSON Schema, says the right
 * reason, offers only actions the state allows, and renders. Also: the committed schema file is
 * the one the code generates.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { PacketSchema, packetJsonSchema } from '../../src/escalation/packet-schema.js';
import { renderPacketMarkdown } from '../../src/escalation/render-markdown.js';
import { actionsAllowedFrom } from '../../src/lifecycle/transitions.js';
import type { EscalationReason } from '../../src/lifecycle/vocabulary.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { latestPacket } from '../../src/store/packets.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, OPS_TOKEN, shiftedClock } from '../helpers/harness.js';

const committed = readFileSync(new URL('../../schema/packet.schema.json', import.meta.url), 'utf8');

describe('packet JSON Schema', () => {
  it('is committed up to date (regenerate: npm run build && node bin/runwarden schema packet > schema/packet.schema.json)', () => {
    expect(committed).toBe(`${JSON.stringify(packetJsonSchema(), null, 2)}\n`);
  });
});

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile(JSON.parse(committed) as object);

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());

interface Scenario {
  kind: EscalationReason;
  taskClass: string;
  input: Record<string, unknown>;
  arrange?(sim: Sim): void;
  /** Runs after the first idle (time moves for a wait to time out). */
  clockJump?: number;
}

const SCENARIOS: Scenario[] = [
  { kind: 'non_retryable', taskClass: 't.restart', input: { service: 's-403' }, arrange: (s) => (s.setService('s-403', { status: 'degraded' }), s.fault({ method: 'POST', path: '/services/s-403/restart', status: 403 })) },
  { kind: 'non_retryable', taskClass: 't.restart', input: { service: 's-echo' }, arrange: (s) => (s.setService('s-echo', { status: 'degraded' }), s.fault({ method: 'POST', path: '/services/s-echo/restart', status: 400, echoHeaders: true })) },
  { kind: 'retries_exhausted', taskClass: 't.restart', input: { service: 's-502' }, arrange: (s) => (s.setService('s-502', { status: 'degraded' }), s.fault({ method: 'POST', path: '/services/s-502/restart', status: 502, times: -1 })) },
  { kind: 'verification_failed', taskClass: 't.restart', input: { service: 's-sick' }, arrange: (s) => s.setService('s-sick', { status: 'degraded', stayDegraded: true }) },
  { kind: 'ambiguous_state', taskClass: 't.charge-noprobe', input: { order: 'ord-x' }, arrange: (s) => s.fault({ method: 'POST', path: '/billing/charges', dropAfterEffect: true }) },
  { kind: 'ambiguous_state', taskClass: 't.decide', input: { service: 's-dec', environment: 'staging' }, arrange: (s) => s.setService('s-dec', { status: 'degraded' }) },
  { kind: 'partial_completion', taskClass: 't.onboard', input: { customer: 'globex', plan: 'basic' }, arrange: (s) => s.fault({ method: 'POST', path: '/email/messages', status: 400 }) },
  { kind: 'compensation_failed', taskClass: 't.onboard', input: { customer: 'initech', plan: 'pro' }, arrange: (s) => (s.fault({ method: 'POST', path: '/provisioning/tenants', status: 409 }), s.fault({ method: 'POST', path: '/billing/invoices/*', status: 422, times: -1 })) },
  { kind: 'deadline_exceeded', taskClass: 't.deadline', input: { service: 's-slow' }, arrange: (s) => s.fault({ method: 'POST', path: '/services/s-slow/restart', status: 503, times: -1 }) },
  { kind: 'approval_required', taskClass: 't.approval', input: { order: 'o-9', amount: 9000 } },
  { kind: 'callback_timeout', taskClass: 't.wait', input: {}, clockJump: 6000 },
  { kind: 'off_policy', taskClass: 't.guard', input: { customer: 'held-co' }, arrange: (s) => s.setEntitlement('held-co', { plan: 'on-hold', features: [] }) },
];

describeBackends('the packet of every escalation scenario', ({ db }) => {
  it.each(SCENARIOS.map((s) => [`${s.kind} (${s.taskClass})`, s] as const))('%s validates against the published schema', async (_name, s) => {
    const clock = shiftedClock();
    const h = await harness(db(), sim, clock);
    const config = deploymentConfig({ secrets: h.secrets });
    const esc = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
    s.arrange?.(sim);
    const t = await h.submit(s.taskClass, s.input);
    await h.work({ hooks: esc.hooks });
    if (s.clockJump) {
      clock.advance(s.clockJump);
      await h.work({ hooks: esc.hooks });
    }
    const task = await h.task(t.id);
    expect(task.escalation?.kind).toBe(s.kind);
    const row = await latestPacket(db(), t.id);
    expect(row, 'a packet was written').toBeDefined();
    const stored = row!.body;
    expect(validate(stored) ? [] : validate.errors).toEqual([]);
    const packet = PacketSchema.parse(stored);
    expect(packet).toMatchObject({ task: { id: t.id }, state: task.state, reason: { kind: s.kind } });
    expect(packet.allowedActions).toEqual(actionsAllowedFrom(task.state));
    if (packet.recommendation.action) expect(packet.allowedActions).toContain(packet.recommendation.action);
    expect(JSON.stringify(stored)).not.toContain(OPS_TOKEN);
    expect(renderPacketMarkdown(packet)).toMatch(/^# .+\n/);
  });
});

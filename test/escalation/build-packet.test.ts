/**
 * The packet builder over recorded tasks (one per reason kind): every packet validates against
 * the schema and the published JSON Schema, and says what the responder needs: what changed,
 * what was tried, the evidence, a next action the state allows, with masked secrets.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { buildPacket, routeOf } from '../../src/escalation/build-packet.js';
import { PacketSchema, packetJsonSchema } from '../../src/escalation/packet-schema.js';
import { actionsAllowedFrom } from '../../src/lifecycle/transitions.js';
import { ESCALATION_REASONS } from '../../src/lifecycle/vocabulary.js';
import { createMasker } from '../../src/secrets/mask.js';
import { caseInput, runbooks } from './cases.js';

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile(packetJsonSchema());

describe('buildPacket', () => {
  it.each(ESCALATION_REASONS)('%s: validates against PacketSchema and the published JSON Schema', async (kind) => {
    const input = await caseInput(kind);
    const packet = buildPacket(input);
    expect(PacketSchema.safeParse(packet).error).toBeUndefined();
    // What the store gives back is JSON: validate that, not the object with its undefineds.
    const stored = JSON.parse(JSON.stringify(packet)) as unknown;
    expect(validate(stored) ? [] : validate.errors).toEqual([]);
    expect(packet.reason.kind).toBe(kind);
    expect(packet.allowedActions).toEqual(actionsAllowedFrom(input.task.state));
    if (packet.recommendation.action) expect(packet.allowedActions).toContain(packet.recommendation.action);
    for (const c of packet.recommendation.commands) expect(c).toMatch(/^runwarden /);
  });

  it('lists what changed where, with external ids, and every attempt', async () => {
    const p = buildPacket(await caseInput('verification_failed'));
    expect(p.sideEffects).toEqual([{ step: 'restart', system: 'ops', repeat: 'keyed', status: 'failed', effect: 'applied', ids: { restartId: 'rst_991' }, at: null }]);
    expect(p.progress).toMatchObject({ done: ['check-health'], current: 'restart', failed: ['restart'] });
    expect(p.attempts.map((a) => `${a.step}:${a.kind}:${a.attempt}`)).toEqual([
      'check-health:action:1',
      'restart:action:1',
      ...[1, 2, 3, 4, 5, 6].map((n) => `restart:verify:${n}`),
    ]);
    expect(p.evidence).toContainEqual(expect.objectContaining({ kind: 'verification', check: 'healthy', passed: false, polls: 6, expected: "result.body.status == 'healthy'", observed: { status: 200, body: { status: 'degraded' } } }));
    expect(p.summary).toBe('service-restart for billing-api (production): restart done, but healthy did not hold');
    expect(p.route).toBe('service-owner');
    expect(p.recommendation.ownerNote).toMatch(/did not report healthy/);
  });

  it('after a once step in doubt, says to check the system for it before resuming, and masks sensitive input by path and by value', async () => {
    const p = buildPacket(await caseInput('ambiguous_state'));
    expect(p.sideEffects.map((s) => [s.step, s.status, s.ids])).toEqual([
      ['create-account', 'succeeded', { accountId: 'acc_31' }],
      ['issue-invoice', 'succeeded', { invoiceId: 'inv_58' }],
      ['charge', 'in_doubt', {}],
    ]);
    expect(p.recommendation.action).toBe('takeover');
    expect(p.recommendation.why).toMatch(/^charge may have taken effect: .* Check ops for the charge before resuming\./);
    expect(p.recommendation.commands).toContain(`runwarden skip ${p.task.id} --capture chargeId=<chargeId> --operator <you> --reason "charge did happen in ops"`);
    expect(p.recommendation.commands.some((c) => c.startsWith(`runwarden retry ${p.task.id} --operator`))).toBe(true); // it has a probe: no --yes
    expect(p.recommendation.ownerNote).toMatch(/never charge again/);
    expect(p.task.input.email).toBe('***');
    expect(JSON.stringify(p)).not.toContain('ana.buyer@example.com');
    expect(p.evidence.find((e) => e.kind === 'probe')).toMatchObject({ verdict: 'unknown', observed: { body: { note: 'search index rebuilding for ***' } } });
  });

  it('masks known secret values wherever they appear, also inside echoed error text', async () => {
    const input = await caseInput('non_retryable');
    const token = 'sk-live-4b1f8e0c2d7a';
    input.attempts[1]!.error = `HTTP 403: {"headers":{"authorization":"Bearer ${token}"}}`;
    input.attempts[1]!.result = { status: 403, body: { echo: { Authorization: `Bearer ${token}` } } };
    const p = buildPacket({ ...input, masker: createMasker([token]) });
    const text = JSON.stringify(p);
    expect(text).not.toContain(token);
    expect(text).toContain('Bearer ***');
  });

  it('shows a refused agent proposal with its model and why', async () => {
    const p = buildPacket(await caseInput('off_policy'));
    expect(p.agent).toMatchObject({ model: 'gpt-4.1-mini', option: 'failover', accepted: false, verdict: 'off_policy', why: 'option not offered', offered: ['restart', 'hand-to-human'] });
  });

  it('routes by reason, failure class, approval route, step route, then the runbook route', async () => {
    const set = await runbooks();
    const svc = set.byId.get('service-restart')!;
    const order = set.byId.get('order-onboarding')!;
    expect(routeOf(svc, { kind: 'non_retryable', failureClass: 'business', step: 'restart' })).toBe('service-owner');
    expect(routeOf(svc, { kind: 'retries_exhausted', failureClass: 'transient', step: 'restart' })).toBe('platform-oncall');
    expect(routeOf(order, { kind: 'compensation_failed', failureClass: 'business', step: 'charge' })).toBe('finance-oncall');
    expect(routeOf(order, { kind: 'approval_required', failureClass: null, step: 'charge' })).toBe('finance');
    expect(routeOf(undefined, { kind: 'off_policy', failureClass: null, step: null })).toBe('default');
  });

  it('a partial completion has no action left, and the packet says what is missing', async () => {
    const p = buildPacket(await caseInput('partial_completion'));
    expect(p.allowedActions).toEqual([]);
    expect(p.recommendation).toMatchObject({ action: null, commands: [`runwarden show ${p.task.id}`] });
    expect(p.recommendation.ownerNote).toMatch(/welcome email/);
    expect(p.summary).toContain('finished except send-welcome');
  });

  it('keeps the newest attempts when there are many, and counts the rest', async () => {
    const input = await caseInput('verification_failed');
    const p = buildPacket({ ...input, maxAttempts: 3 });
    expect(p.attempts).toHaveLength(3);
    expect(p.attemptsOmitted).toBe(5);
    expect(p.attempts.at(-1)).toMatchObject({ kind: 'verify', attempt: 6 });
  });

  it('still builds a valid packet when the runbook is no longer loaded', async () => {
    const input = await caseInput('retries_exhausted');
    const p = buildPacket({ ...input, plan: undefined });
    expect(PacketSchema.safeParse(p).error).toBeUndefined();
    expect(p.runbook).toEqual({ id: 'service-restart', version: 1, owner: null });
    expect(p.route).toBe('default');
  });
});

/**
 * One recorded task per escalation reason kind, written as the store would hold it (task row,
 * ledger, attempts) against the example runbooks, with fixed times: the builder's and renderer's
 * tests read these, and the snapshots show what a responder would get for each.
 */
import { fileURLToPath } from 'node:url';
import type { BuildPacketInput } from '../../src/escalation/build-packet.js';
import type { AttemptRecord, LedgerEvent, PacketStepRecord, PacketTask } from '../../src/escalation/packet-input.js';
import type { EscalationReason, FailureClass, TaskState } from '../../src/lifecycle/vocabulary.js';
import { loadRunbookFiles } from '../../src/runbook/load.js';
import type { CompiledRunbook, RunbookSet } from '../../src/runbook/plan.js';

export const T0 = new Date('2026-11-23T18:00:00.000Z');
export const at = (s: number) => new Date(T0.getTime() + s * 1000);

const RUNBOOKS = fileURLToPath(new URL('../../runbooks', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/runbooks', import.meta.url));

let set: RunbookSet | undefined;
export async function runbooks(): Promise<RunbookSet> {
  if (set) return set;
  const r = await loadRunbookFiles([RUNBOOKS, FIXTURES]);
  if (r.problems.length) throw new Error(r.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n'));
  set = r.set;
  return set;
}

/** A ledger in the making: events and attempts with consecutive seq numbers and clock. */
class Ledger {
  events: LedgerEvent[] = [];
  attempts: AttemptRecord[] = [];
  private t = 0;
  tick(s = 1): Date {
    this.t += s;
    return at(this.t);
  }
  event(type: string, step: string | null, data: Record<string, unknown> = {}, actor = 'worker:wrk_a'): void {
    this.events.push({ seq: this.events.length + 1, at: at(this.t), type, step, actor, data });
  }
  attempt(step: string, kind: string, n: number, outcome: 'succeeded' | 'failed' | null, o: { failureClass?: FailureClass; error?: string; result?: unknown; ms?: number } = {}): void {
    const startedAt = this.tick();
    const ms = o.ms ?? 120;
    this.attempts.push({
      step, kind, attempt: n, startedAt, finishedAt: outcome === null ? null : new Date(startedAt.getTime() + ms),
      outcome, failureClass: o.failureClass ?? null, error: o.error ?? null, durationMs: outcome === null ? null : ms, result: o.result ?? null,
    });
    this.event('attempt.started', step, { kind, attempt: n });
    if (outcome !== null) this.event('attempt.finished', step, { kind, attempt: n, outcome, failureClass: o.failureClass ?? null, error: o.error ?? null, durationMs: ms });
  }
}

interface CaseSpec {
  runbook: string;
  taskClass: string;
  input: Record<string, unknown>;
  state: TaskState;
  currentStep: string | null;
  steps: Record<string, Partial<PacketStepRecord> & { status: PacketStepRecord['status'] }>;
  retry?: [number, number];
  deadline?: Date | null;
  reason: { kind: EscalationReason; failureClass: FailureClass | null; step: string | null; message: string };
  write(l: Ledger): void;
}

function build(plan: CompiledRunbook, spec: CaseSpec, n: number): BuildPacketInput {
  const l = new Ledger();
  l.event('intake.accepted', null, {}, 'intake');
  spec.write(l);
  const escalatedAt = l.tick();
  if (spec.state === 'escalated') l.event('escalated', spec.reason.step, { kind: spec.reason.kind, failureClass: spec.reason.failureClass, message: spec.reason.message });
  const steps: Record<string, PacketStepRecord> = {};
  for (const s of plan.steps) steps[s.id] = { attempts: 0, captures: {}, ...(spec.steps[s.id] ?? { status: 'pending' }) } as PacketStepRecord;
  const task: PacketTask = {
    id: `tsk_case${String(n).padStart(2, '0')}aaaaaaaaaaaaaa`,
    externalRef: `INC-${4200 + n}`,
    taskClass: spec.taskClass,
    runbookId: plan.id,
    runbookVersion: plan.version,
    requestedBy: 'queue:ops',
    input: spec.input,
    state: spec.state,
    currentStep: spec.currentStep,
    steps,
    retryUsed: spec.retry?.[0] ?? 0,
    retryLimit: spec.retry?.[1] ?? plan.policy.retryBudget,
    deadlineAt: spec.deadline === undefined ? new Date(T0.getTime() + plan.policy.deadlineMs) : spec.deadline,
    escalation: { ...spec.reason, at: escalatedAt.toISOString() },
  };
  return { packetId: `pkt_case${'abcdefghijklmnopqrstuvwxyz'[n]}aaaaaaaaaaaaaaa`, now: escalatedAt, task, plan, events: l.events, attempts: l.attempts };
}

const done = (captures: Record<string, unknown> = {}, attempts = 1) => ({ status: 'succeeded' as const, attempts, captures, finishedAt: at(2).toISOString() });

const healthRead = (l: Ledger, status = 'degraded') => {
  l.event('step.started', 'check-health');
  l.attempt('check-health', 'action', 1, 'succeeded', { result: { status: 200, body: { status } } });
  l.event('step.succeeded', 'check-health', { attempts: 1 });
};

const ORDER = { order: 'ord_77', customer: 'cus_acme', plan: 'pro', amount: 420, email: 'ana.buyer@example.com' };

/** The cases, by reason kind. */
export const CASES: Record<EscalationReason, CaseSpec> = {
  retries_exhausted: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'billing-api', environment: 'production' },
    state: 'escalated', currentStep: 'restart', retry: [2, 6],
    steps: { 'check-health': done({ health: 'degraded' }), restart: { status: 'failed', attempts: 3 } },
    reason: { kind: 'retries_exhausted', failureClass: 'transient', step: 'restart', message: 'restart: HTTP 503 Service Unavailable; 3 of 3 tries used for transient failures' },
    write(l) {
      healthRead(l);
      l.event('step.started', 'restart');
      for (const n of [1, 2, 3]) {
        l.attempt('restart', 'action', n, 'failed', { failureClass: 'transient', error: 'HTTP 503 Service Unavailable', result: { status: 503, body: { error: 'scheduler unavailable' } } });
        if (n < 3) l.event('retry.scheduled', 'restart', { failureClass: 'transient', attempt: n, delayMs: 1000 * n, budget: { used: n, limit: 6 } });
      }
    },
  },
  non_retryable: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'api', environment: 'staging' },
    state: 'escalated', currentStep: 'restart',
    steps: { 'check-health': done({ health: 'degraded' }), restart: { status: 'failed', attempts: 1 } },
    reason: { kind: 'non_retryable', failureClass: 'permission', step: 'restart', message: 'restart: HTTP 403 Forbidden; permission failures are not retried' },
    write(l) {
      healthRead(l);
      l.attempt('restart', 'action', 1, 'failed', { failureClass: 'permission', error: 'HTTP 403 Forbidden', result: { status: 403, body: { error: 'token lacks services:restart' } } });
    },
  },
  verification_failed: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'billing-api', environment: 'production' },
    state: 'escalated', currentStep: 'restart',
    steps: { 'check-health': done({ health: 'degraded' }), restart: { status: 'failed', attempts: 1, captures: { restartId: 'rst_991' } } },
    reason: { kind: 'verification_failed', failureClass: 'verification', step: 'restart', message: "restart: healthy: expected result.body.status == 'healthy' within 20s; last observed HTTP 200 {\"status\":\"degraded\"}" },
    write(l) {
      healthRead(l);
      l.attempt('restart', 'action', 1, 'succeeded', { result: { status: 202, body: { id: 'rst_991' } }, ms: 812 });
      for (const n of [1, 2, 3, 4, 5, 6]) {
        l.attempt('restart', 'verify', n, 'failed', { failureClass: 'verification', error: "expected result.body.status == 'healthy'", result: { status: 200, body: { status: 'degraded' } }, ms: 40 });
        l.event('verification.result', 'restart', { check: 'healthy', passed: false, expected: "result.body.status == 'healthy'", observed: { status: 200, body: { status: 'degraded' } }, poll: n });
      }
    },
  },
  ambiguous_state: {
    runbook: 'order-onboarding', taskClass: 'order.onboard', input: ORDER,
    state: 'escalated', currentStep: 'charge',
    steps: { 'create-account': done({ accountId: 'acc_31' }), 'issue-invoice': done({ invoiceId: 'inv_58' }), charge: { status: 'in_doubt', attempts: 1 } },
    reason: { kind: 'ambiguous_state', failureClass: 'ambiguous', step: 'charge', message: 'charge may have taken effect and the probe could not tell: result.body.items: no such key' },
    write(l) {
      l.attempt('create-account', 'action', 1, 'succeeded', { result: { status: 201, body: { id: 'acc_31' } } });
      l.attempt('issue-invoice', 'action', 1, 'succeeded', { result: { status: 201, body: { id: 'inv_58' } } });
      l.attempt('charge', 'action', 1, null);
      l.event('attempt.in_doubt', 'charge', { kind: 'action', attempt: 1, idempotencyKey: null });
      l.attempt('charge', 'probe', 1, 'failed', { failureClass: 'ambiguous', error: 'result.body.items: no such key', result: { status: 200, body: { note: 'search index rebuilding for ana.buyer@example.com' } } });
      l.event('probe.result', 'charge', { verdict: 'unknown', observed: { status: 200, body: { note: 'search index rebuilding for ana.buyer@example.com' } }, present: 'result.body.items.exists(c, !c.refunded)', absent: 'result.body.items.all(c, c.refunded)', error: 'result.body.items: no such key' });
    },
  },
  off_policy: {
    runbook: 't-decide', taskClass: 't.decide', input: { service: 'search', environment: 'staging' },
    state: 'escalated', currentStep: 'choose-remediation',
    steps: { 'check-health': done({ status: 'degraded' }), 'choose-remediation': { status: 'failed', attempts: 1 } },
    reason: { kind: 'off_policy', failureClass: 'off_policy', step: 'choose-remediation', message: 'proposal "failover" refused: not offered in this state; offered: restart, hand-to-human' },
    write(l) {
      healthRead(l);
      l.attempt('choose-remediation', 'action', 1, 'succeeded', { ms: 2300 });
      l.event('agent.proposal', 'choose-remediation', { model: 'gpt-4.1-mini', option: 'failover', rationale: 'Latency is high everywhere; failing over is fastest.', confidence: 0.82, offered: ['restart', 'hand-to-human'], accepted: false, verdict: 'off_policy', why: 'option not offered' });
    },
  },
  deadline_exceeded: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'api', environment: 'production' },
    state: 'escalated', currentStep: 'restart', retry: [2, 6], deadline: at(9),
    steps: { 'check-health': done({ health: 'degraded' }), restart: { status: 'failed', attempts: 2 } },
    reason: { kind: 'deadline_exceeded', failureClass: 'transient', step: 'restart', message: 'the deadline 2026-11-23T18:00:09.000Z passed before restart could be tried again' },
    write(l) {
      healthRead(l);
      l.attempt('restart', 'action', 1, 'failed', { failureClass: 'transient', error: 'HTTP 502 Bad Gateway' });
      l.attempt('restart', 'action', 2, 'failed', { failureClass: 'timeout', error: 'no answer within 10s', ms: 10_000 });
    },
  },
  budget_exhausted: {
    runbook: 'order-onboarding', taskClass: 'order.onboard', input: ORDER,
    state: 'escalated', currentStep: 'provision-tenant', retry: [10, 10],
    steps: { 'create-account': done({ accountId: 'acc_31' }, 3), 'issue-invoice': done({ invoiceId: 'inv_58' }, 4), charge: done({ chargeId: 'ch_12' }), 'provision-tenant': { status: 'failed', attempts: 4 } },
    reason: { kind: 'budget_exhausted', failureClass: 'transient', step: 'provision-tenant', message: 'provision-tenant: HTTP 503; the task used its retry budget (10 of 10)' },
    write(l) {
      for (const n of [1, 2, 3]) l.attempt('create-account', 'action', n, n < 3 ? 'failed' : 'succeeded', n < 3 ? { failureClass: 'transient', error: 'HTTP 502' } : {});
      for (const n of [1, 2, 3, 4]) l.attempt('issue-invoice', 'action', n, n < 4 ? 'failed' : 'succeeded', n < 4 ? { failureClass: 'timeout', error: 'no answer within 5s' } : {});
      l.attempt('charge', 'action', 1, 'succeeded', { result: { status: 201, body: { id: 'ch_12' } } });
      for (const n of [1, 2, 3, 4]) l.attempt('provision-tenant', 'action', n, 'failed', { failureClass: 'transient', error: 'HTTP 503', result: { status: 503, body: 'upstream connect error' } });
    },
  },
  approval_required: {
    runbook: 'order-onboarding', taskClass: 'order.onboard', input: { ...ORDER, amount: 5000 },
    state: 'awaiting_approval', currentStep: 'charge',
    steps: { 'create-account': done({ accountId: 'acc_31' }), 'issue-invoice': done({ invoiceId: 'inv_58' }) },
    reason: { kind: 'approval_required', failureClass: null, step: 'charge', message: 'Large order; confirm the amount before the card is charged.' },
    write(l) {
      l.attempt('create-account', 'action', 1, 'succeeded');
      l.attempt('issue-invoice', 'action', 1, 'succeeded');
      l.event('approval.requested', 'charge', { route: 'finance', prompt: 'Large order; confirm the amount before the card is charged.' });
    },
  },
  confirm_after_retry: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'billing-api', environment: 'production' },
    state: 'awaiting_approval', currentStep: 'restart',
    steps: { 'check-health': done({ health: 'degraded' }), restart: { status: 'running', attempts: 2 } },
    reason: { kind: 'confirm_after_retry', failureClass: 'transient', step: 'restart', message: 'restart succeeded on try 2 after 1 transient failure(s)' },
    write(l) {
      healthRead(l);
      l.attempt('restart', 'action', 1, 'failed', { failureClass: 'transient', error: 'HTTP 503 Service Unavailable' });
      l.attempt('restart', 'action', 2, 'succeeded', { result: { status: 200, body: { id: 'rst_1' } } });
      l.event('approval.requested', 'restart', { route: 'platform-oncall', reason: 'confirm_after_retry' });
    },
  },
  callback_timeout: {
    runbook: 't-wait', taskClass: 't.wait', input: {},
    state: 'escalated', currentStep: 'wait-ready',
    steps: { 'wait-ready': { status: 'failed', attempts: 0 } },
    reason: { kind: 'callback_timeout', failureClass: 'timeout', step: 'wait-ready', message: 'wait-ready: no callback within 300ms' },
    write(l) {
      l.event('callback.waiting', 'wait-ready', { timeoutAt: at(1).toISOString() });
      l.tick();
      l.event('callback.timeout', 'wait-ready', { timeoutAt: at(1).toISOString() });
    },
  },
  compensation_failed: {
    runbook: 'order-onboarding', taskClass: 'order.onboard', input: ORDER,
    state: 'escalated', currentStep: 'provision-tenant',
    steps: {
      'create-account': done({ accountId: 'acc_31' }),
      'issue-invoice': done({ invoiceId: 'inv_58' }),
      charge: { status: 'compensation_failed', attempts: 1, captures: { chargeId: 'ch_12' } },
      'provision-tenant': { status: 'failed', attempts: 1 },
    },
    reason: { kind: 'compensation_failed', failureClass: 'business', step: 'charge', message: 'undoing charge failed: HTTP 422 refund window closed' },
    write(l) {
      l.attempt('create-account', 'action', 1, 'succeeded');
      l.attempt('issue-invoice', 'action', 1, 'succeeded');
      l.attempt('charge', 'action', 1, 'succeeded', { result: { status: 201, body: { id: 'ch_12' } } });
      l.attempt('provision-tenant', 'action', 1, 'failed', { failureClass: 'business', error: 'HTTP 409 tenant name taken', result: { status: 409, body: { error: 'tenant name taken' } } });
      l.event('compensation.started', 'provision-tenant', { cause: 'provision-tenant', failureClass: 'business', steps: ['charge', 'issue-invoice', 'create-account'] });
      l.attempt('charge', 'compensate', 1, 'failed', { failureClass: 'business', error: 'HTTP 422 refund window closed', result: { status: 422, body: { error: 'refund window closed' } } });
      l.event('compensation.finished', 'charge', { ok: false, failureClass: 'business', error: 'HTTP 422 refund window closed' });
    },
  },
  partial_completion: {
    runbook: 'order-onboarding', taskClass: 'order.onboard', input: ORDER,
    state: 'partially_completed', currentStep: null,
    steps: {
      'create-account': done({ accountId: 'acc_31' }),
      'issue-invoice': done({ invoiceId: 'inv_58' }),
      charge: done({ chargeId: 'ch_12' }),
      'provision-tenant': done({ tenantId: 'ten_5' }),
      'send-welcome': { status: 'failed', attempts: 1 },
    },
    reason: { kind: 'partial_completion', failureClass: null, step: 'send-welcome', message: 'finished with 1 step(s) not done: send-welcome' },
    write(l) {
      for (const s of ['create-account', 'issue-invoice', 'charge', 'provision-tenant']) l.attempt(s, 'action', 1, 'succeeded');
      l.attempt('provision-tenant', 'verify', 1, 'succeeded');
      l.event('verification.result', 'provision-tenant', { check: 'tenant-ready', passed: true, expected: "result.body.status == 'ready'", observed: { status: 200, body: { status: 'ready' } }, poll: 1 });
      l.attempt('send-welcome', 'action', 1, 'failed', { failureClass: 'invalid_input', error: 'HTTP 400 Bad Request', result: { status: 400, body: { error: 'mailbox ana.buyer@example.com does not exist' } } });
    },
  },
  silent_failure: {
    runbook: 'service-restart', taskClass: 'service.restart', input: { service: 'billing-api', environment: 'production' },
    state: 'escalated', currentStep: null, deadline: null,
    steps: {},
    reason: { kind: 'silent_failure', failureClass: null, step: null, message: 'no run completed within 1h of the fire at 2026-11-23T17:00:00.000Z (the last completed at 2026-11-23T16:45:12.000Z)' },
    write() {},
  },
};

/** The builder input of one case. */
export async function caseInput(kind: EscalationReason): Promise<BuildPacketInput> {
  const set = await runbooks();
  const spec = CASES[kind];
  const plan = set.byId.get(spec.runbook);
  if (!plan) throw new Error(`no runbook ${spec.runbook}`);
  return build(plan, spec, Object.keys(CASES).indexOf(kind) + 1);
}

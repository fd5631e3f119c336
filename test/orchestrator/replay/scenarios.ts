/**
 * The recorded scenarios: every path the decision function takes, each as a short script. The
 * operator edits below write the stored task the way the operator actions (operator.ts) wrote
 * it when the fixture was recorded.
 */
import type { StepRecord } from '../../../src/store/tasks.js';
import { aborted, http, reset, Session, timedOut } from './session.js';
import type { StoredTask } from './kit.js';
import {
  BRANCHES,
  CHARGE_ROLLBACK,
  BROKEN_EXPRESSIONS,
  BROKEN_GUARD,
  CALLBACK,
  DECIDE,
  DECIDE_FALLBACK,
  DECIDE_NONE,
  DEPLOY,
  GATED_ROLLBACK,
  GUARDED,
  HURRY,
  NOTIFY,
  OPTIONAL_WAIT,
  ORDER_ONBOARDING,
  REFUND,
  RESERVE,
  RESTART,
} from './runbooks.js';

type Cursor = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// Operators, as operator.ts wrote the stored task

const op = {
  approve(t: StoredTask, c: Cursor, by = 'ana'): void {
    c.approval = { step: c.approval?.step ?? t.currentStep ?? '', granted: true, by, note: 'checked' };
    t.state = 'queued';
  },
  callback(t: StoredTask, c: Cursor, data: unknown, at: string): void {
    c.callback = { ...c.callback, data, receivedAt: at };
    t.state = 'queued';
  },
  /** `retry` and `resume` without --from: the current step afresh. */
  reenter(t: StoredTask, c: Cursor, once: { probe: boolean } | null, state: StoredTask['state'] = 'queued'): void {
    const inDoubt = t.currentStep ? t.steps[t.currentStep]?.status === 'in_doubt' : false;
    const probeFirst = c.probeFirst;
    c.phase = 'enter';
    if (c.callback && c.callback.data === undefined) delete c.callback;
    delete c.failures;
    delete c.verify;
    delete c.refresh;
    if (once && (inDoubt || probeFirst)) c.probeFirst = true;
    if (once?.probe) c.probeFirst = true;
    t.state = state;
    t.escalationKind = null;
  },
  skip(t: StoredTask, c: Cursor, capture: Record<string, unknown>): void {
    const id = t.currentStep!;
    const r = t.steps[id]!;
    t.steps[id] = { ...r, status: 'skipped', captures: { ...r.captures, ...capture }, note: 'skipped by ana: done by hand', finishedAt: '2026-03-02T10:00:00.000Z' };
    c.phase = 'next';
    delete c.probeFirst;
    t.state = 'queued';
    t.escalationKind = null;
  },
  resumeFrom(t: StoredTask, c: Cursor, from: string, order: string[]): void {
    for (const id of order.slice(order.indexOf(from))) t.steps[id] = { status: 'pending', attempts: 0, captures: {} } as StepRecord;
    for (const k of Object.keys(c)) if (k !== 'counters') delete c[k];
    c.phase = 'enter';
    t.currentStep = from;
    t.state = 'queued';
    t.escalationKind = null;
  },
  rollback(t: StoredTask, c: Cursor): void {
    delete c.compensation;
    t.state = 'compensating';
  },
  resumeRollback(t: StoredTask, c: Cursor): void {
    delete c.compensation;
    for (const r of Object.values(t.steps)) if (r.status === 'compensation_failed') r.status = 'succeeded';
    t.state = 'compensating';
  },
  denyToRollback(t: StoredTask, c: Cursor): void {
    delete c.approval;
    const id = t.currentStep!;
    t.steps[id] = { ...t.steps[id]!, status: 'failed', note: 'approval denied by ana: no', finishedAt: '2026-03-02T10:00:00.000Z' };
    delete c.compensation;
    t.state = 'compensating';
  },
};

const order = (amount: number) => ({ order: 'ord_A1', customer: 'cus_a1', plan: 'pro', amount, email: 'a@example.com' });
const proposal = (option: string, confidence: number, extra: Record<string, unknown> = {}) =>
  ({ kind: 'result' as const, result: { option, rationale: 'health says degraded', confidence, model: 'm-1', latencyMs: 40, tokens: { input: 100, output: 20 }, ...extra } });
const noModel = { kind: 'error' as const, code: 'NO_MODEL', message: 'no model configured', maybeApplied: false };

export type Scenario = () => Session | Session[];

export const SCENARIOS: Record<string, Scenario> = {
  'onboarding-happy': () => {
    const s = new Session('onboarding-happy', 'order-onboarding end to end: keyed steps with their keys, captures, a polled verification, a once step that works first time', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account created', http(201, { id: 'acc_1' }));
    s.finish('invoice issued', http(201, { id: 'inv_1' }));
    s.finish('charged', http(201, { id: 'ch_1' }));
    s.finish('tenant requested', http(202, { id: 'ten_1', status: 'provisioning' }));
    s.finish('tenant not ready yet', http(200, { id: 'ten_1', status: 'provisioning' }));
    s.poll();
    s.finish('tenant ready', http(200, { id: 'ten_1', status: 'ready' }));
    s.finish('welcome sent', http(201, { id: 'msg_1' }));
    return s.expect('completed');
  },

  'onboarding-approval-gate': () => {
    const s = new Session('onboarding-approval-gate', 'a large order waits for finance at the charge, is approved, and goes on', ORDER_ONBOARDING, { input: order(5000) });
    s.claim();
    s.finish('account created', http(201, { id: 'acc_1' }));
    s.finish('invoice issued: the charge needs an approval', http(201, { id: 'inv_1' }));
    s.expect('awaiting_approval');
    s.wait(60_000).operator((t, c) => op.approve(t, c));
    s.claim('approved: claimed');
    s.finish('charged', http(201, { id: 'ch_1' }));
    return s;
  },

  'onboarding-charge-probe-present': () => {
    const s = new Session('onboarding-charge-probe-present', "the charge's response is lost; the probe finds the charge and takes it instead of charging again", ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge: connection reset after sending', reset);
    s.expect('retry_scheduled');
    s.claim('retry due: probe first');
    s.finish('probe: the charge is there', http(200, { items: [{ id: 'ch_9', refunded: false }] }));
    s.finish('tenant', http(202, { id: 'ten_1', status: 'ready' }));
    s.finish('tenant ready', http(200, { id: 'ten_1', status: 'ready' }));
    return s;
  },

  'onboarding-charge-probe-absent': () => {
    const s = new Session('onboarding-charge-probe-absent', 'the charge timed out; the probe finds nothing, so it is safe to charge again', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge timed out', timedOut(5000), 5000);
    s.claim('retry due: probe first');
    s.finish('probe: no charge', http(200, { items: [] }));
    s.finish('charged', http(201, { id: 'ch_2' }));
    return s;
  },

  'onboarding-charge-probe-unknown': () => {
    const s = new Session('onboarding-charge-probe-unknown', 'the probe answers something neither present nor absent matches: ambiguous', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge: reset', reset);
    s.claim('retry due: probe first');
    s.finish('probe: a body it cannot read', http(200, { items: 'unavailable' }));
    s.expect('escalated');
    s.wait(600_000).operator((t, c) => op.reenter(t, c, { probe: true }));
    s.claim('operator retried: probe again');
    s.finish('probe: no charge', http(200, { items: [] }));
    return s;
  },

  'onboarding-charge-probe-503': () => {
    const s = new Session('onboarding-charge-probe-503', 'the probe itself meets a 503 once', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge: reset', reset);
    s.claim('retry due: probe first');
    s.finish('probe: 503', http(503, { error: 'unavailable' }));
    return s;
  },

  'onboarding-rollback': () => {
    const s = new Session('onboarding-rollback', 'provisioning is refused: the charge, invoice and account are undone newest first, one undo retried in place', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge', http(201, { id: 'ch_1' }));
    s.finish('tenant refused: rollback', http(409, { error: 'plan unavailable' }));
    s.expect('compensating');
    s.finish('refund', http(200, { refunded: true }));
    s.finish('void: 503', http(503));
    s.poll('void again');
    s.finish('voided', http(200, {}));
    s.finish('account deleted', http(204, {}));
    return s.expect('rolled_back');
  },

  'onboarding-compensation-fails': () => {
    const s = new Session('onboarding-compensation-fails', 'an undo is refused: compensation_failed; the operator resumes the rollback and it finishes', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge', http(201, { id: 'ch_1' }));
    s.finish('tenant refused: rollback', http(409));
    s.finish('refund refused', http(403, { error: 'forbidden' }));
    s.expect('escalated');
    s.wait(600_000).operator((t, c) => op.resumeRollback(t, c));
    s.claim('resumed rollback');
    s.finish('refund', http(200));
    s.finish('void', http(200));
    s.finish('delete', http(204));
    return s.expect('rolled_back');
  },

  'onboarding-verify-fails-rollback': () => {
    const s = new Session('onboarding-verify-fails-rollback', 'the tenant never becomes ready within its window: verification_failed, and the step rolls back', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge', http(201, { id: 'ch_1' }));
    s.finish('tenant requested', http(202, { id: 'ten_1' }));
    s.finish('poll 1: provisioning', http(200, { id: 'ten_1', status: 'provisioning' }));
    s.poll();
    s.finish('poll 2: provisioning', http(200, { id: 'ten_1', status: 'provisioning' }));
    s.wait(13_000).poll('poll after the window');
    s.finish('poll 3: provisioning, window closed', http(200, { id: 'ten_1', status: 'provisioning' }));
    s.expect('compensating');
    return s;
  },

  'onboarding-welcome-partial': () => {
    const s = new Session('onboarding-welcome-partial', 'the welcome email is refused; it is not critical, so the task ends partially_completed', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge', http(201, { id: 'ch_1' }));
    s.finish('tenant', http(202, { id: 'ten_1' }));
    s.finish('ready', http(200, { status: 'ready' }));
    s.finish('welcome refused', http(422, { error: 'bad address' }));
    return s.expect('partially_completed');
  },

  'onboarding-crashes': () => {
    const s = new Session('onboarding-crashes', 'the worker dies during a keyed step, the once charge (probed), the verification and a compensation; each is recovered as its repeat mode says', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.crash('crash in create-account (keyed): replays with its key');
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.crash('crash in charge (once): probe first');
    s.finish('probe: absent', http(200, { items: [] }));
    s.finish('charged', http(201, { id: 'ch_1' }));
    s.finish('tenant', http(202, { id: 'ten_1' }));
    s.crash('crash in verify: replays the check', 2000);
    s.finish('tenant failed', http(200, { status: 'failed' }));
    s.poll();
    s.finish('still failed', http(200, { status: 'failed' }));
    s.wait(20_000);
    s.poll('window closed');
    s.finish('failed: rollback', http(200, { status: 'failed' }));
    s.expect('compensating');
    s.crash('crash in a keyed compensation: replays');
    s.finish('refunded', http(200));
    return s;
  },

  'restart-when-skip': () => {
    const s = new Session('restart-when-skip', "the service is healthy: the restart's when is false and it is skipped", RESTART, { input: { service: 'api' } });
    s.claim();
    s.finish('healthy', http(200, { status: 'healthy' }));
    return s.expect('completed');
  },

  'restart-refresh': () => {
    const s = new Session('restart-refresh', 'a transient failure retries after refreshing the earlier safe read; a failed refresh counts against the step', RESTART, { input: { service: 'api' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('restart 503', http(503));
    s.expect('retry_scheduled');
    s.claim('retry due: refresh first');
    s.finish('refresh 503', http(503));
    s.claim('retry due again: refresh');
    s.finish('refreshed: still degraded', http(200, { status: 'degraded' }));
    s.finish('restarted', http(202, { id: 'rst_1' }));
    s.finish('healthy', http(200, { status: 'healthy' }));
    return s.expect('completed');
  },

  'restart-verify-retry': () => {
    const s = new Session('restart-verify-retry', 'the verification window closes; the step policy retries verification once, then it escalates', RESTART, { input: { service: 'api' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('restarted', http(202, { id: 'rst_1' }));
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.poll();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.wait(2500);
    s.poll('late poll');
    s.finish('window closed: retry', http(200, { status: 'degraded' }));
    s.expect('retry_scheduled');
    s.claim('retry: the action again');
    s.finish('restarted', http(202, { id: 'rst_2' }));
    s.wait(4000);
    s.finish('window closed again', http(200, { status: 'starting' }));
    return s.expect('escalated');
  },

  'restart-classify-and-permission': () => {
    const s = new Session('restart-classify-and-permission', "a classify rule makes a 409 business; a 403 is permission: neither is retried", RESTART, { input: { service: 'api' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('restart 409', http(409, { error: 'in progress' }));
    s.expect('escalated');
    s.wait(60_000).operator((t, c) => op.reenter(t, c, null));
    s.claim('retried by an operator');
    s.finish('restart 403', http(403));
    return s.expect('escalated');
  },

  'deploy-backoff-jitter': () => {
    const s = new Session('deploy-backoff-jitter', 'transient failures back off exponentially with jitter, then succeed', DEPLOY, { input: { version: '1.2.3' } });
    s.claim();
    s.finish('502', http(502));
    s.claim('retry 1');
    s.finish('503', http(503));
    s.claim('retry 2');
    s.finish('deployed', http(201, { id: 'dep_1' }));
    s.finish('announced', http(201));
    return s.expect('completed');
  },

  'deploy-retry-after': () => {
    const s = new Session('deploy-retry-after', "a 429's Retry-After is longer than the backoff and is honoured; a timeout is retried by its own policy", DEPLOY, { input: { version: '1.2.3' } });
    s.claim();
    s.finish('429, retry after 7s', http(429, {}, { retryAfterMs: 7000 }));
    s.claim('retry after 7s');
    s.finish('timed out', timedOut(5000), 5000);
    s.claim('timeout retry');
    s.finish('deployed', http(201, { id: 'dep_1' }));
    return s;
  },

  'deploy-exhausted': () => {
    const s = new Session('deploy-exhausted', "retries run out by the policy's attempts; another task runs out of its budget", DEPLOY, { input: { version: '1.2.3' } });
    s.claim();
    for (let i = 0; i < 4; i++) {
      s.finish(`502 #${i + 1}`, http(502));
      if (s.task.state !== 'retry_scheduled') break;
      s.claim(`retry ${i + 1}`);
    }
    return s.expect('escalated');
  },

  'deploy-budget': () => {
    const s = new Session('deploy-budget', "the task's retry budget is used up before the policy's attempts", DEPLOY, { input: { version: '1.2.3' }, task: { retryUsed: 3 } });
    s.claim();
    s.finish('502', http(502));
    s.claim('the last retry');
    s.finish('502 again', http(502));
    return s.expect('escalated');
  },

  'deploy-stopping-and-cancel': () => {
    const s = new Session('deploy-stopping-and-cancel', 'a stopping worker records the outcome and hands the task back; a cancel cuts the next attempt off', DEPLOY, { input: { version: '1.2.3' } });
    s.claim();
    s.finish('deployed while the worker stops', http(201, { id: 'dep_1' }), 5, { stopping: true });
    s.expect('queued');
    s.claim('claimed by another worker');
    s.operator((t) => {
      t.cancelRequested = true;
    });
    s.finish('cancelled during the attempt', aborted);
    return s.expect('cancelled');
  },

  'deploy-cancel-safe-point': () => {
    const s = new Session('deploy-cancel-safe-point', 'a cancel that arrives while an attempt succeeds stops at the next safe point; one found at a claim stops at once', DEPLOY, { input: { version: '1.2.3' } });
    s.claim();
    s.operator((t) => {
      t.cancelRequested = true;
    });
    s.finish('deployed as the cancel came', http(201, { id: 'dep_1' }));
    s.expect('cancelled');
    const again = new Session('deploy-cancel-safe-point', '', DEPLOY, { input: { version: '1.2.3' }, task: { cancelRequested: true, state: 'running', currentStep: 'deploy', cursor: { phase: 'action' } } });
    again.claim('a cancel found when claimed');
    return [s, again];
  },

  'hurry-deadlines': () => {
    const s = new Session('hurry-deadlines', 'a retry that would start after the deadline escalates; so does a step entered after it', HURRY);
    s.claim();
    s.finish('first ok', http(200));
    s.wait(1500);
    s.finish('second 503 with 1.5s left', http(503), 600);
    s.expect('escalated');
    const late = new Session('hurry-deadlines', '', HURRY);
    late.wait(4000);
    late.claim('claimed after the deadline');
    return [s, late.expect('escalated')];
  },

  'notify-once-without-probe': () => {
    const s = new Session('notify-once-without-probe', 'a once step without a probe is never replayed: after a failure that may have taken effect, and after a crash', NOTIFY, { input: { to: 'ops@example.com' } });
    s.claim();
    s.finish('reset', reset);
    s.expect('escalated');
    const c = new Session('notify-once-without-probe', '', NOTIFY, { input: { to: 'ops@example.com' } });
    c.claim();
    c.crash('crash during the email');
    c.expect('escalated');
    c.wait(60_000).operator((t, cur) => op.skip(t, cur, { messageId: 'msg_by_hand' }));
    c.claim('skipped by an operator: next step');
    c.finish('read back', http(200, { id: 'msg_by_hand' }));
    return [s, c.expect('completed')];
  },

  'reserve-once-compensation': () => {
    const s = new Session('reserve-once-compensation', 'a compensation that cannot be replayed is in doubt after a crash: compensation_failed', RESERVE);
    s.claim();
    s.finish('reserved', http(201, { id: 'res_1' }));
    s.finish('confirm refused: rollback', http(409));
    s.expect('compensating');
    s.crash('crash during the once release');
    return s.expect('escalated');
  },

  'reserve-operator-rollback': () => {
    const s = new Session('reserve-operator-rollback', 'an operator rolls back an escalated task: the queue is worked out when the rollback starts', ORDER_ONBOARDING, { input: order(120) });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('invoice', http(201, { id: 'inv_1' }));
    s.finish('charge refused', http(400, { error: 'card declined' }));
    s.expect('escalated');
    s.wait(60_000).operator((t, c) => op.rollback(t, c));
    s.claim('rollback claimed');
    s.finish('voided', http(200));
    s.finish('deleted', http(204));
    return s.expect('rolled_back');
  },

  'decide-accepted': () => {
    const s = new Session('decide-accepted', 'an offered option with enough confidence is followed; the steps it jumps over are skipped', DECIDE, { input: { service: 'api', environment: 'staging' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('model: restart', proposal('restart', 0.9));
    s.finish('restarted', http(202));
    return s.expect('completed');
  },

  'decide-refusals': () => {
    const mk = (n: number) => new Session('decide-refusals', 'refused proposals: not offered, made up, unparseable, late; low confidence; an escalating option; a model error', DECIDE, { input: { service: 'api', environment: 'staging' }, seed: n });
    const runs: Session[] = [];
    const answers: [string, ReturnType<typeof proposal> | Record<string, unknown>][] = [
      ['not offered', proposal('failover', 0.99)],
      ['made up', proposal('drop-database', 1)],
      ['unparseable', proposal('', Number.NaN, { problem: 'the answer is not JSON', raw: 'I think restart' })],
      ['late', proposal('restart', 0.9, { problem: "answered after the step's timeout of 2000ms" })],
      ['low confidence', proposal('restart', 0.2)],
      ['escalating option', proposal('hand-to-human', 0.95)],
      ['model refused', { kind: 'error', code: 'MODEL_ERROR', failureClass: 'permission', message: 'model m-1: 401 bad key', maybeApplied: false, agent: { model: 'm-1', latencyMs: 8 } }],
    ];
    answers.forEach(([label, answer], i) => {
      const s = mk(i + 1);
      s.claim(`${label}: claim`);
      s.finish(`${label}: degraded`, http(200, { status: 'degraded' }));
      s.finish(`${label}: answer`, answer as never);
      s.expect('escalated');
      runs.push(s);
    });
    return [...runs];
  },

  'decide-no-model-and-cap': () => {
    const s = new Session('decide-no-model-and-cap', 'without a model: escalate, or the fallback option; a timed-out call is retried and counted; the cap stops calls', DECIDE, { input: { service: 'api', environment: 'staging' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('no model: fallback escalate', noModel);
    s.expect('escalated');
    const f = new Session('decide-no-model-and-cap', '', DECIDE_FALLBACK, { input: { service: 'api', environment: 'staging' } });
    f.claim();
    f.finish('degraded', http(200, { status: 'degraded' }));
    f.finish('no model: fallback restart', noModel);
    f.finish('restarted', http(202));
    f.expect('completed');
    const cap = new Session('decide-no-model-and-cap', '', DECIDE_FALLBACK, { input: { service: 'api', environment: 'production' } });
    cap.claim();
    cap.finish('degraded', http(200, { status: 'degraded' }), 5, { agentCallCap: 1 });
    cap.finish('model timed out', { kind: 'error', code: 'TIMEOUT', failureClass: 'timeout', message: 'no answer within 2000ms', maybeApplied: false, agent: { model: 'm-1', latencyMs: 2000 } }, 2000, { agentCallCap: 1 });
    cap.expect('retry_scheduled');
    cap.claim('retry: the cap is reached, fallback restart', [], { agentCallCap: 1 });
    const capEsc = new Session('decide-no-model-and-cap', '', DECIDE, { input: { service: 'api', environment: 'staging' }, task: { cursor: { agentCalls: 3 } } });
    capEsc.claim();
    capEsc.finish('degraded, cap of 3 already used', http(200, { status: 'degraded' }), 5, { agentCallCap: 3 });
    return [s, f, cap, capEsc.expect('escalated')];
  },

  'decide-none-offered': () => {
    const s = new Session('decide-none-offered', 'no option can be offered: escalate before asking anyone', DECIDE_NONE);
    s.claim();
    return s.expect('escalated');
  },

  'callback-arrives': () => {
    const s = new Session('callback-arrives', "the task's callback token is made at its first decision, handed out by the first step, and the wait takes the callback's data", CALLBACK, { input: { order: 'ord_7' } });
    s.claim();
    s.finish('order placed', http(201, { id: 'ord_7' }));
    s.expect('waiting_callback');
    s.wait(20_000).operator((t, c) => op.callback(t, c, { tracking: 'TRK-1' }, '2026-03-02T09:00:20.005Z'));
    s.claim('callback came');
    return s.expect('completed');
  },

  'callback-timeout': () => {
    const s = new Session('callback-timeout', 'no callback in time: callback_timeout; the operator resumes and the wait starts over with the same token', CALLBACK, { input: { order: 'ord_8' } });
    s.claim();
    s.finish('order placed', http(201, { id: 'ord_8' }));
    s.claim('the wait timed out');
    s.expect('escalated');
    s.wait(60_000).operator((t, c) => op.reenter(t, c, null));
    s.claim('resumed: waits again');
    s.expect('waiting_callback');
    const opt = new Session('callback-timeout', '', OPTIONAL_WAIT);
    opt.claim();
    opt.claim('a non-critical wait timed out: go on');
    opt.finish('finished', http(200));
    return [s, opt.expect('partially_completed')];
  },

  'guards': () => {
    const s = new Session('guards', 'a guard reads a capture and denies the next step; a guard that cannot be evaluated denies', GUARDED, { input: { customer: 'cus_1' } });
    s.claim();
    s.finish('on hold', http(200, { plan: 'on-hold' }));
    s.expect('escalated');
    const ok = new Session('guards', '', GUARDED, { input: { customer: 'cus_2' } });
    ok.claim();
    ok.finish('plan basic', http(200, { plan: 'basic' }));
    ok.finish('updated', http(200));
    ok.expect('completed');
    const broken = new Session('guards', '', BROKEN_GUARD, { input: {} });
    broken.claim();
    return [s, ok, broken.expect('escalated')];
  },

  'approve-step': () => {
    const s = new Session('approve-step', "a planned approval with a rendered prompt; the approver becomes the step's captures", REFUND, { input: { amount: 40 } });
    s.claim();
    s.expect('awaiting_approval');
    s.wait(30_000).operator((t, c) => op.approve(t, c, 'bo'));
    s.claim('approved');
    s.finish('refunded', http(201));
    return s.expect('completed');
  },

  'branches': () => {
    const s = new Session('branches', 'set, a next rule jumping ahead, onFailure goto, a goto over pending steps', BRANCHES, { input: { amount: 500 } });
    s.claim('set computes, then the route read');
    s.finish('routes', http(200));
    s.finish('big refused: goto cleanup', http(409));
    s.finish('cleaned up', http(200, { id: 'cln_1' }));
    s.finish('check exits 1', { kind: 'result', result: { exitCode: 1, stdout: '', stderr: 'not clean' } });
    s.expect('escalated');
    const small = new Session('branches', '', BRANCHES, { input: { amount: 5 } });
    small.claim();
    small.finish('routes', http(200));
    small.finish('small done: goto end', http(200));
    small.expect('completed');
    const cont = new Session('branches', '', BRANCHES, { input: { amount: 500 } });
    cont.claim();
    cont.finish('routes', http(200));
    cont.finish('big done', http(200));
    cont.finish('optional refused: continue', http(400));
    cont.finish('cleaned up', http(200, { id: 'cln_2' }));
    cont.finish('check ok', { kind: 'result', result: { exitCode: 0, stdout: 'ok', stderr: '' } });
    return [s, small, cont.expect('partially_completed')];
  },

  'broken-expressions': () => {
    const s = new Session('broken-expressions', "a when that cannot be evaluated and a capture that cannot: internal failures of the step", BROKEN_EXPRESSIONS);
    s.claim();
    s.finish('first id is a number', http(200, { items: [{ id: 42 }] }));
    s.expect('escalated');
    const cap = new Session('broken-expressions', '', BROKEN_EXPRESSIONS);
    cap.claim();
    cap.finish('no items', http(200, { items: [] }));
    return [s, cap.expect('escalated')];
  },

  'resume-from': () => {
    const s = new Session('resume-from', 'an operator resumes from an earlier step: attempt numbers keep counting', RESTART, { input: { service: 'api' } });
    s.claim();
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('409', http(409));
    s.expect('escalated');
    s.wait(60_000).operator((t, c) => op.resumeFrom(t, c, 'check-health', ['check-health', 'restart']));
    s.claim('resumed from check-health');
    s.finish('degraded', http(200, { status: 'degraded' }));
    s.finish('restarted', http(202, { id: 'rst_9' }));
    return s;
  },

  'rollback-charge-in-doubt': () => {
    const s = new Session('rollback-charge-in-doubt', 'a charge that timed out (its effect may stand) is in the rollback\'s way: its probe decides; found, it is refunded; not found, nothing to undo; unreadable, the rollback stops', CHARGE_ROLLBACK, { input: { order: 'ord_9' } });
    s.claim();
    s.finish('account', http(201, { id: 'acc_1' }));
    s.finish('charge timed out: rollback', timedOut(5000), 5000);
    s.expect('compensating');
    s.finish('probe: the charge is there', http(200, { items: [{ id: 'ch_4' }] }));
    s.finish('refunded', http(200));
    s.finish('account deleted', http(204));
    s.expect('rolled_back');
    const absent = new Session('rollback-charge-in-doubt', '', CHARGE_ROLLBACK, { input: { order: 'ord_10' } });
    absent.claim();
    absent.finish('account', http(201, { id: 'acc_2' }));
    absent.finish('charge timed out: rollback', timedOut(5000), 5000);
    absent.finish('probe: no charge', http(200, { items: [] }));
    absent.finish('account deleted', http(204));
    absent.expect('rolled_back');
    const unknown = new Session('rollback-charge-in-doubt', '', CHARGE_ROLLBACK, { input: { order: 'ord_11' } });
    unknown.claim();
    unknown.finish('account', http(201, { id: 'acc_3' }));
    unknown.finish('charge timed out: rollback', timedOut(5000), 5000);
    unknown.finish('probe: 503', http(503));
    unknown.poll('probe again');
    unknown.finish('probe: unreadable', http(200, { items: null }));
    return [s, absent, unknown.expect('escalated')];
  },

  'deny-rollback': () => {
    const s = new Session('deny-rollback', 'a denied approval on a gated step that rolls back: the rollback runs', GATED_ROLLBACK);
    s.claim();
    s.finish('reserved', http(201, { id: 'res_1' }));
    s.expect('awaiting_approval');
    s.wait(60_000).operator((t, c) => op.denyToRollback(t, c));
    s.claim('rollback after the denial');
    s.finish('released', http(200));
    return s.expect('rolled_back');
  },
};


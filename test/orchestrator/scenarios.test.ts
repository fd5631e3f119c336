/**
 * The orchestrator end to end, on both backends, against the simulated operations API: each
 * scenario asserts the final state, the step statuses and attempts, and what the API applied.
 */
import { beforeEach, expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness, shiftedClock, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { approve, deliverCallback } from '../../src/orchestrator/operator.js';
import { readCursor } from '../../src/orchestrator/cursor.js';
import { readTaskView } from '../../src/store/task-view.js';
import { listTasks } from '../../src/store/tasks.js';
import { TaskDocumentSchema } from '../../src/lifecycle/task-schema.js';

const sim = useSim();

const requestsTo = (method: string, path: string) => sim().requests().filter((r) => r.method === method && r.path === path);

describeBackends('orchestrator scenarios', ({ db }) => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness(db(), sim());
  });

  it('retries transient failures and then succeeds, with one effect', async () => {
    sim().setService('billing-api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/billing-api/restart', status: 503, times: 2 });
    const t = await h.submit('t.restart', { service: 'billing-api' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('completed');
    expect(done.steps.restart).toMatchObject({ status: 'succeeded', attempts: 3, captures: { restartId: expect.stringMatching(/^rst_/) } });
    expect(requestsTo('POST', '/services/billing-api/restart')).toHaveLength(3);
    expect(sim().count('service.restart')).toBe(1);
    const keys = new Set(requestsTo('POST', '/services/billing-api/restart').map((r) => r.headers['idempotency-key']));
    expect([...keys]).toEqual([`${t.id}:restart`]);
    const retries = (await h.events(t.id)).filter((e) => e.type === 'retry.scheduled');
    expect(retries.map((e) => e.data.failureClass)).toEqual(['transient', 'transient']);
    expect(done.retryUsed).toBe(2);
  });

  it('escalates a permission failure without a retry', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('escalated');
    expect(done.escalation).toMatchObject({ kind: 'non_retryable', failureClass: 'permission', step: 'restart' });
    expect(done.steps.restart).toMatchObject({ status: 'failed', attempts: 1 });
    expect(requestsTo('POST', '/services/api/restart')).toHaveLength(1);
    expect(sim().count('service.restart')).toBe(0);
  });

  it('escalates retries_exhausted when the failures outlast the policy', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 502, times: -1 });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('escalated');
    expect(done.escalation).toMatchObject({ kind: 'retries_exhausted', failureClass: 'transient' });
    expect(done.steps.restart?.attempts).toBe(3);
    expect(requestsTo('POST', '/services/api/restart')).toHaveLength(3);
    const attempts = (await h.attempts(t.id)).filter((a) => a.kind === 'action' && a.step === 'restart');
    expect(attempts.map((a) => [a.outcome, a.failureClass])).toEqual([
      ['failed', 'transient'],
      ['failed', 'transient'],
      ['failed', 'transient'],
    ]);
  });

  it('escalates verification_failed when the end state never holds, with the evidence', async () => {
    sim().setService('api', { status: 'degraded', stayDegraded: true });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('escalated');
    expect(done.escalation).toMatchObject({ kind: 'verification_failed', failureClass: 'verification', step: 'restart' });
    expect(sim().count('service.restart')).toBe(1);
    const checks = (await h.events(t.id)).filter((e) => e.type === 'verification.result');
    expect(checks.length).toBeGreaterThan(1);
    expect(checks.every((e) => e.data.passed === false)).toBe(true);
    expect(checks[0]!.data).toMatchObject({ check: 'healthy', expected: "result.body.status == 'healthy'", observed: { status: 200, body: { status: 'degraded' } } });
  });

  it('a once step whose response is lost after the effect is found by its probe: exactly one charge', async () => {
    sim().fault({ method: 'POST', path: '/billing/charges', dropAfterEffect: true });
    const t = await h.submit('t.charge', { order: 'ord-1', amount: 42 });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('completed');
    expect(sim().count('billing.charge.create')).toBe(1);
    expect(requestsTo('POST', '/billing/charges')).toHaveLength(1);
    expect(done.steps.charge).toMatchObject({ status: 'succeeded', captures: { chargeId: sim().effects()[0]!.id } });
    const probe = (await h.events(t.id)).find((e) => e.type === 'probe.result');
    expect(probe?.data.verdict).toBe('present');
  });

  it('the same without a probe escalates ambiguous_state and never replays', async () => {
    sim().fault({ method: 'POST', path: '/billing/charges', dropAfterEffect: true });
    const t = await h.submit('t.charge-noprobe', { order: 'ord-2' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('escalated');
    expect(done.escalation).toMatchObject({ kind: 'ambiguous_state', step: 'charge' });
    expect(done.steps.charge?.status).toBe('in_doubt');
    expect(requestsTo('POST', '/billing/charges')).toHaveLength(1);
    expect(sim().count('billing.charge.create')).toBe(1);
  });

  it('rolls back with compensation, newest first', async () => {
    sim().fault({ method: 'POST', path: '/provisioning/tenants', status: 409 });
    const t = await h.submit('t.onboard', { customer: 'acme', plan: 'pro' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('rolled_back');
    expect(sim().effects().map((e) => e.kind)).toEqual(['crm.account.create', 'billing.invoice.create', 'billing.invoice.void', 'crm.account.delete']);
    expect(done.steps['create-account']?.status).toBe('compensated');
    expect(done.steps.invoice?.status).toBe('compensated');
    expect(done.steps.provision?.status).toBe('failed');
    expect(done.steps['welcome-email']?.status).toBe('pending');
    const comp = (await h.attempts(t.id)).filter((a) => a.kind === 'compensate');
    expect(comp.map((a) => [a.step, a.outcome])).toEqual([
      ['invoice', 'succeeded'],
      ['create-account', 'succeeded'],
    ]);
  });

  it('a failed non-critical step ends the task partially_completed', async () => {
    sim().fault({ method: 'POST', path: '/email/messages', status: 400 });
    const t = await h.submit('t.onboard', { customer: 'globex', plan: 'basic' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('partially_completed');
    expect(done.steps.provision?.status).toBe('succeeded');
    expect(done.steps['welcome-email']?.status).toBe('failed');
    expect(sim().count('provisioning.tenant.create')).toBe(1);
    expect(sim().count('email.message.send')).toBe(0);
    expect(done.escalation).toMatchObject({ kind: 'partial_completion', step: 'welcome-email' });
  });

  it('a deadline cuts retries short', async () => {
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 503, times: -1 });
    const t = await h.submit('t.deadline', { service: 'api' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('escalated');
    expect(done.escalation?.kind).toBe('deadline_exceeded');
    // 1s deadline, 400ms between tries: the policy's 10 tries never happen.
    expect(requestsTo('POST', '/services/api/restart').length).toBeLessThan(4);
    expect(done.retryUsed).toBeLessThan(4);
  });

  it('enforces a step timeout, classifies it, and retries a keyed step with its key', async () => {
    sim().fault({ method: 'POST', path: '/services/slowpoke/restart', delayMs: 10_000 });
    const t = await h.submit('t.timeout', { service: 'slowpoke' });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('completed');
    const attempts = (await h.attempts(t.id)).filter((a) => a.kind === 'action');
    expect(attempts.map((a) => [a.outcome, a.failureClass])).toEqual([
      ['failed', 'timeout'],
      ['succeeded', null],
    ]);
    expect(attempts[0]!.error).toMatch(/timed out after 150ms/);
    // The timed-out request was abandoned before the API applied it: one restart in all.
    expect(sim().count('service.restart')).toBe(1);
  });

  it('honours Retry-After', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 503, retryAfter: 1 });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    const retry = (await h.events(t.id)).find((e) => e.type === 'retry.scheduled');
    expect(retry?.data).toMatchObject({ retryAfterMs: 1000, delayMs: 1000 });
    const [first, second] = requestsTo('POST', '/services/api/restart');
    expect(Date.parse(second!.at) - Date.parse(first!.at)).toBeGreaterThanOrEqual(1000);
  });

  it('an approval gate holds the step until a person approves', async () => {
    const small = await h.submit('t.approval', { order: 'o-1', amount: 10 });
    const big = await h.submit('t.approval', { order: 'o-2', amount: 5000 });
    await h.work();
    expect((await h.task(small.id)).state).toBe('completed');
    const waiting = await h.task(big.id);
    expect(waiting.state).toBe('awaiting_approval');
    expect(waiting.escalation).toMatchObject({ kind: 'approval_required', step: 'invoice' });
    expect(sim().count('billing.invoice.create')).toBe(1);

    await approve({ db: db(), runbooks: h.runbooks, now: new Date() }, big.id, { operator: 'ana', reason: 'customer confirmed the amount' });
    await h.work();
    const done = await h.task(big.id);
    expect(done.state).toBe('completed');
    expect(sim().count('billing.invoice.create')).toBe(2);
    const approval = (await h.events(big.id)).find((e) => e.type === 'operator.action');
    expect(approval).toMatchObject({ actor: 'operator:ana', data: { action: 'approve', reason: 'customer confirmed the amount' } });
  });

  it('a wait step takes the callback data, and escalates when none comes in time', async () => {
    const clock = shiftedClock();
    const hc = await harness(db(), sim(), clock);
    const a = await hc.submit('t.wait', {});
    const b = await hc.submit('t.wait', {});
    await hc.work();
    const waiting = await hc.task(a.id);
    expect(waiting.state).toBe('waiting_callback');
    expect(waiting.callbackTokenHash).toMatch(/^[0-9a-f]{64}$/);
    const cursor = readCursor(waiting.cursor, waiting);
    const token = cursor.callbackToken!;
    expect(JSON.stringify(await hc.events(a.id))).not.toContain(token);
    // An operator (or the system that calls back) reads the token from show.
    const shown = await readTaskView(db(), a.id, (id) => h.runbooks.byId.get(id));
    expect(shown?.callback).toEqual({ token, waiting: true, timeoutAt: cursor.phase.at === 'waiting' ? cursor.phase.timeoutAt : 'not waiting' });

    await deliverCallback({ db: db(), now: clock.now() }, token, { tenant: 'ten_9' });
    await expect(deliverCallback({ db: db(), now: clock.now() }, token, {})).rejects.toMatchObject({ code: 'CALLBACK_UNKNOWN' });
    await hc.work();
    const done = await hc.task(a.id);
    expect(done.state).toBe('completed');
    expect(done.steps['wait-ready']?.captures).toEqual({ tenant: 'ten_9' });

    clock.advance(6000);
    await hc.work();
    const late = await hc.task(b.id);
    expect(late.state).toBe('escalated');
    expect(late.escalation).toMatchObject({ kind: 'callback_timeout', step: 'wait-ready' });
  });

  it('re-checks guards before every step: a guard that starts denying stops the task', async () => {
    sim().setEntitlement('held-co', { plan: 'on-hold', features: [] });
    sim().setEntitlement('open-co', { plan: 'basic', features: [] });
    const held = await h.submit('t.guard', { customer: 'held-co' });
    const open = await h.submit('t.guard', { customer: 'open-co' });
    await h.work();
    const stopped = await h.task(held.id);
    expect(stopped.state).toBe('escalated');
    expect(stopped.escalation).toMatchObject({ kind: 'off_policy', failureClass: 'off_policy', step: 'update' });
    expect(stopped.steps.lookup?.status).toBe('succeeded');
    const guards = (await h.events(held.id)).filter((e) => e.type === 'guard.checked').map((e) => [e.step, e.data.verdict]);
    expect(guards).toEqual([
      ['lookup', 'allowed'],
      ['update', 'denied'],
    ]);
    expect((await h.task(open.id)).state).toBe('completed');
    expect(sim().effects().filter((e) => e.kind === 'entitlement.put').map((e) => e.path)).toEqual(['/entitlements/open-co']);
  });

  it('every task shown (show --json) matches the published task schema', async () => {
    const tasks = await listTasks(db(), { limit: 500 });
    expect(tasks.length).toBeGreaterThan(10);
    for (const t of tasks) {
      const shown = JSON.parse(JSON.stringify(await readTaskView(db(), t.id, (id) => h.runbooks.byId.get(id))));
      const parsed = TaskDocumentSchema.safeParse(shown);
      expect(parsed.success, `${t.id} ${t.state}: ${parsed.error?.message}`).toBe(true);
    }
  });

  it('never records a secret: the bearer token sent to the API is absent from the ledger', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 400, echoHeaders: true });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    expect(requestsTo('POST', '/services/api/restart')[0]!.headers.authorization).toBe(`Bearer ${h.secrets.OPS_API_TOKEN}`);
    const recorded = JSON.stringify({ task: await h.task(t.id), events: await h.events(t.id), attempts: await h.attempts(t.id) });
    expect(recorded).toContain('invalid_input');
    expect(recorded).not.toContain(h.secrets.OPS_API_TOKEN!);
  });
});

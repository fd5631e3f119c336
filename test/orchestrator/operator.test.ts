/**
 * Operator actions on both backends: each action from each state (allowed ones change the state
 * and write one `operator.action` event in the same transaction; the rest are refused and change
 * nothing), and the recovery scenarios of lifecycle.md, checked against what the API saw.
 */
import { beforeEach, expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness, shiftedClock, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { ACTION_FROM } from '../../src/lifecycle/transitions.js';
import { OPERATOR_ACTIONS, TASK_STATES, type OperatorAction, type TaskState } from '../../src/lifecycle/vocabulary.js';
import { deliverCallback, OPERATOR_ACTION_FUNCTIONS, type ActionContext } from '../../src/orchestrator/operator.js';
import type { Cursor } from '../../src/orchestrator/types.js';
import type { Db } from '../../src/store/db.js';

const sim = useSim();

const who = { operator: 'ana', reason: 'on call' };

describeBackends('operator actions', ({ db }) => {
  let h: Harness;
  let ctx: ActionContext;
  beforeEach(async () => {
    h = await harness(db(), sim());
    ctx = { db: db(), runbooks: h.runbooks, now: new Date() };
  });
  const act = (a: OperatorAction, ref: string, extra: Record<string, unknown> = {}) =>
    (OPERATOR_ACTION_FUNCTIONS[a] as unknown as (c: ActionContext, r: string, i: Record<string, unknown>) => Promise<{ task: { state: TaskState } }>)(ctx, ref, { ...who, ...extra });

  /** Puts a task in a state directly, the way a test fixture must (no transition would get it there alone). */
  async function inState(state: TaskState): Promise<string> {
    const t = await h.submit('t.onboard', { customer: `c-${state}`, plan: 'pro' });
    await (db() as Db).query(`UPDATE tasks SET state = $2, current_step = 'invoice', lease_owner = NULL, lease_expires_at = NULL WHERE id = $1`, [t.id, state]);
    return t.id;
  }

  it('each action is allowed exactly from the states the table lists, and refused elsewhere', async () => {
    const made: string[] = [];
    try {
    for (const action of OPERATOR_ACTIONS) {
      for (const state of TASK_STATES) {
        const id = await inState(state);
        made.push(id);
        const before = (await h.events(id)).length;
        const allowed = (ACTION_FROM[action] as readonly TaskState[]).includes(state);
        const extra = action === 'resume' && state === 'failed' ? { force: true } : {};
        if (allowed) {
          const r = await act(action, id, extra);
          if (action !== 'cancel' || !['running', 'compensating'].includes(state)) expect(r.task.state, `${action} from ${state}`).not.toBe(state);
          const events = await h.events(id);
          const op = events.filter((e) => e.type === 'operator.action');
          expect(op, `${action} from ${state}`).toHaveLength(1);
          expect(op[0]).toMatchObject({ actor: 'operator:ana', data: { action, operator: 'ana', reason: 'on call' } });
        } else {
          await expect(act(action, id, extra), `${action} from ${state}`).rejects.toMatchObject({ code: 'ACTION_NOT_ALLOWED' });
          expect((await h.task(id)).state).toBe(state);
          expect((await h.events(id)).length).toBe(before);
        }
      }
    }
    } finally {
      // These tasks were put in their states by hand: no later test's worker may run them.
      await (db() as Db).query('DELETE FROM tasks WHERE id = ANY($1)', [made]);
    }
  });

  it('requires an operator and a reason', async () => {
    const id = await inState('escalated');
    await expect(OPERATOR_ACTION_FUNCTIONS.takeover(ctx, id, { operator: '', reason: 'x' })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
    await expect(OPERATOR_ACTION_FUNCTIONS.takeover(ctx, id, { operator: 'ana', reason: ' ' })).rejects.toMatchObject({ code: 'REQUEST_INVALID' });
  });

  it('takeover, then resume once the fault is fixed', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 403, times: -1 });
    const r = await h.submit('t.restart', { service: 'api' });
    await h.work();
    expect((await h.task(r.id)).state).toBe('escalated');
    expect((await act('takeover', r.id)).task.state).toBe('in_handover');
    await h.work();
    expect((await h.task(r.id)).state).toBe('in_handover');
    sim().reset();
    sim().setService('api', { status: 'degraded' });
    expect((await act('resume', r.id)).task.state).toBe('queued');
    await h.work();
    const done = await h.task(r.id);
    expect(done.state).toBe('completed');
    expect(sim().count('service.restart')).toBe(1);
  });

  it('resume --reset-budget gives a fresh retry budget, recorded', async () => {
    sim().setService('api', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api/restart', status: 503, times: 3 });
    const t = await h.submit('t.restart', { service: 'api' });
    await h.work();
    const stuck = await h.task(t.id);
    expect(stuck.escalation).toMatchObject({ kind: 'retries_exhausted' });
    expect(stuck.retryUsed).toBe(2);
    await act('resume', t.id, { resetBudget: true });
    expect((await h.task(t.id)).retryUsed).toBe(0);
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    const op = (await h.events(t.id)).find((e) => e.type === 'operator.action');
    expect(op?.data).toMatchObject({ action: 'resume', budgetReset: { from: 2, limit: 6 } });
  });

  it('resume --from an earlier step lists what changed and needs --yes', async () => {
    sim().fault({ method: 'POST', path: '/billing/invoices', status: 403 });
    const w = await h.submit('t.onboard', { customer: 'hooli', plan: 'pro' });
    await h.work();
    const escalatedOnInvoice = await h.task(w.id);
    expect(escalatedOnInvoice.state).toBe('escalated');
    expect(escalatedOnInvoice.currentStep).toBe('invoice');

    const dry = await OPERATOR_ACTION_FUNCTIONS.resume(ctx, w.id, { ...who, from: 'create-account', dryRun: true });
    expect(dry.plan).toEqual({ from: 'create-account', rerun: ['create-account', 'invoice'], changed: ['create-account', 'invoice'] });
    expect((await h.task(w.id)).state).toBe('escalated');
    await expect(OPERATOR_ACTION_FUNCTIONS.resume(ctx, w.id, { ...who, from: 'create-account' })).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
    await OPERATOR_ACTION_FUNCTIONS.resume(ctx, w.id, { ...who, from: 'create-account', yes: true });
    await h.work();
    const done = await h.task(w.id);
    expect(done.state, JSON.stringify(done.escalation)).toBe('completed');
    // The account was created again: with its key it is the same account.
    expect(sim().count('crm.account.create')).toBe(1);
    expect(sim().requests().filter((r) => r.method === 'POST' && r.path === '/crm/accounts').length).toBe(2);
  });

  it('skip --capture supplies what a later step reads', async () => {
    sim().fault({ method: 'POST', path: '/crm/accounts', status: 409 });
    const t = await h.submit('t.onboard', { customer: 'umbrella', plan: 'pro' });
    await h.work();
    expect((await h.task(t.id)).currentStep).toBe('create-account');
    await act('skip', t.id, { capture: { accountId: 'acc_by_hand' } });
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('completed');
    expect(done.steps['create-account']).toMatchObject({ status: 'skipped', captures: { accountId: 'acc_by_hand' } });
    const invoice = sim().effects().find((e) => e.kind === 'billing.invoice.create');
    expect(invoice?.body).toMatchObject({ account: 'acc_by_hand' });
  });

  it('rollback from in_handover undoes the completed steps, newest first', async () => {
    sim().fault({ method: 'POST', path: '/billing/invoices', status: 403 });
    const t = await h.submit('t.onboard', { customer: 'wayne', plan: 'pro' });
    await h.work();
    await act('takeover', t.id);
    expect((await act('rollback', t.id)).task.state).toBe('compensating');
    await h.work();
    const done = await h.task(t.id);
    expect(done.state).toBe('rolled_back');
    expect(sim().effects().map((e) => e.kind)).toEqual(['crm.account.create', 'crm.account.delete']);
  });

  it('complete --partial, and fail then resume refused without --force', async () => {
    sim().fault({ method: 'POST', path: '/billing/invoices', status: 403, times: 2 });
    const a = await h.submit('t.onboard', { customer: 'stark', plan: 'pro' });
    const b = await h.submit('t.onboard', { customer: 'oscorp', plan: 'pro' });
    await h.work();
    expect((await act('complete', a.id, { partial: true })).task.state).toBe('partially_completed');
    expect((await act('fail', b.id)).task.state).toBe('failed');
    await expect(act('resume', b.id)).rejects.toMatchObject({ code: 'ACTION_NOT_ALLOWED' });
    const resumed = await act('resume', b.id, { force: true });
    expect(resumed.task.state).toBe('queued');
    await h.work();
    expect((await h.task(b.id)).state).toBe('completed');
    const op = (await h.events(b.id)).filter((e) => e.type === 'operator.action').map((e) => e.data);
    expect(op[1]).toMatchObject({ action: 'resume', force: true, budgetReset: { limit: expect.any(Number) } });
  });

  it('completed, rolled_back and cancelled tasks refuse every action', async () => {
    for (const state of ['completed', 'rolled_back', 'cancelled'] as const) {
      const id = await inState(state);
      for (const action of OPERATOR_ACTIONS) {
        await expect(act(action, id), `${action} on ${state}`).rejects.toMatchObject({ code: 'ACTION_NOT_ALLOWED' });
      }
      expect((await h.task(id)).state).toBe(state);
    }
  });

  it('retry of a once step still probes first: no second charge', async () => {
    sim().fault({ method: 'POST', path: '/billing/charges', dropAfterEffect: true });
    sim().fault({ method: 'GET', path: '/billing/charges', status: 404, times: 1 });
    const t = await h.submit('t.charge', { order: 'ord-r', amount: 3 });
    await h.work();
    const stuck = await h.task(t.id);
    expect(stuck.state).toBe('escalated');
    expect(stuck.escalation).toMatchObject({ kind: 'ambiguous_state' });
    await act('retry', t.id);
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    expect(sim().count('billing.charge.create')).toBe(1);
    expect(sim().requests().filter((r) => r.method === 'POST' && r.path === '/billing/charges')).toHaveLength(1);
  });

  it('retry of a once step without a probe needs --yes', async () => {
    sim().fault({ method: 'POST', path: '/billing/charges', status: 503, times: 1 });
    const t = await h.submit('t.charge-noprobe', { order: 'ord-y' });
    await h.work();
    expect((await h.task(t.id)).state).toBe('escalated');
    await expect(act('retry', t.id)).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED' });
    await act('retry', t.id, { yes: true });
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    expect(sim().count('billing.charge.create')).toBe(1);
  });

  it('retry after a callback timeout waits again, with the same token', async () => {
    const clock = shiftedClock();
    const hc = await harness(db(), sim(), clock);
    const t = await hc.submit('t.wait', {});
    await hc.work();
    const token = ((await hc.task(t.id)).cursor as Cursor).callbackToken!;
    clock.advance(6000);
    await hc.work();
    expect((await hc.task(t.id)).escalation).toMatchObject({ kind: 'callback_timeout' });
    await OPERATOR_ACTION_FUNCTIONS.retry({ ...ctx, now: clock.now() }, t.id, who);
    await hc.work();
    const waiting = await hc.task(t.id);
    expect(waiting.state).toBe('waiting_callback');
    expect(waiting.nextAttemptAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    await deliverCallback({ db: db(), now: clock.now() }, token, { tenant: 'ten_2' });
    await hc.work();
    expect((await hc.task(t.id)).state).toBe('completed');
  });

  it('cancel of a task a worker holds stops it at the next checkpoint, nothing half-recorded', async () => {
    sim().setService('slow', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/slow/restart', delayMs: 30_000 });
    const t = await h.submit('t.restart', { service: 'slow' });
    // A lease long enough that a loaded machine never lets it lapse: the cancel must find it held.
    const working = h.work({ leaseMs: 3000 });
    await new Promise<void>((resolve) => {
      const onReq = (r: { path: string }) => {
        if (r.path === '/services/slow/restart') {
          sim().events.off('request', onReq);
          resolve();
        }
      };
      sim().events.on('request', onReq);
    });
    const r = await act('cancel', t.id);
    expect(r.task.state).toBe('running');
    await working;
    const done = await h.task(t.id);
    expect(done.state).toBe('cancelled');
    const attempts = await h.attempts(t.id);
    expect(attempts.every((a) => a.finishedAt !== null)).toBe(true);
    expect(attempts.find((a) => a.kind === 'action' && a.step === 'restart')).toMatchObject({ outcome: 'failed', failureClass: 'human_aborted' });
    // Stopped there: no retry was scheduled on the way to cancelled.
    expect((await h.events(t.id)).some((e) => e.type === 'retry.scheduled')).toBe(false);
    expect(done.retryUsed).toBe(0);
    expect(sim().count('service.restart')).toBe(0);
  });
});

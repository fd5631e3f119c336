import { describe, expect, it } from 'vitest';
import { call, useSim } from './fixture.js';

describe('simulated API routes', () => {
  const sim = useSim();

  it('reports services healthy by default and as set', async () => {
    expect((await call(sim(), 'GET', '/services/billing-api/health')).body).toEqual({ service: 'billing-api', status: 'healthy' });
    sim().setService('billing-api', { status: 'degraded' });
    expect((await call(sim(), 'GET', '/services/billing-api/health')).body.status).toBe('degraded');
  });

  it('restart makes a degraded service healthy and records the effect', async () => {
    sim().setService('billing-api', { status: 'degraded' });
    const r = await call(sim(), 'POST', '/services/billing-api/restart');
    expect(r).toMatchObject({ status: 200, body: { id: 'rst_1', service: 'billing-api' } });
    expect((await call(sim(), 'GET', '/services/billing-api/health')).body.status).toBe('healthy');
    expect(sim().effects()).toEqual([
      expect.objectContaining({ seq: 1, kind: 'service.restart', method: 'POST', path: '/services/billing-api/restart', id: 'rst_1' }),
    ]);
    expect(sim().count('service.restart')).toBe(1);
  });

  it('restart leaves a service degraded when scripted to stay so', async () => {
    sim().setService('search', { status: 'degraded', stayDegraded: true });
    await call(sim(), 'POST', '/services/search/restart');
    expect((await call(sim(), 'GET', '/services/search/health')).body.status).toBe('degraded');
    expect(sim().count('service.restart')).toBe(1);
  });

  it('creates, lists and deletes CRM accounts', async () => {
    const created = await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c1', plan: 'pro' } });
    expect(created).toMatchObject({ status: 201, body: { id: 'acc_1', customer: 'c1', plan: 'pro' } });
    await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c2', plan: 'basic' } });
    expect((await call(sim(), 'GET', '/crm/accounts?customer=c1')).body).toEqual({ items: [{ id: 'acc_1', customer: 'c1', plan: 'pro' }] });
    expect((await call(sim(), 'DELETE', '/crm/accounts/acc_1')).body).toEqual({ id: 'acc_1', deleted: true });
    expect((await call(sim(), 'GET', '/crm/accounts?customer=c1')).body.items).toEqual([]);
    expect((await call(sim(), 'DELETE', '/crm/accounts/acc_1')).status).toBe(404);
    expect(sim().effects().map((e) => e.kind)).toEqual(['crm.account.create', 'crm.account.create', 'crm.account.delete']);
  });

  it('rejects a malformed body with 400 and the problems, applying nothing', async () => {
    const r = await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c1' } });
    expect(r.status).toBe(400);
    expect(r.body.problems).toEqual([expect.objectContaining({ path: 'plan' })]);
    expect(sim().effects()).toEqual([]);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const res = await fetch(`${sim().url}/crm/accounts`, { method: 'POST', body: '{nope' });
    expect(res.status).toBe(400);
    expect(sim().requests()[0]).toMatchObject({ status: 400, outcome: 'answered' });
  });

  it('serves entitlements: 404 unknown, set from a test, replaced by PUT', async () => {
    expect(await call(sim(), 'GET', '/entitlements/acme')).toMatchObject({ status: 404, body: { error: 'not found' } });
    sim().setEntitlement('acme', { plan: 'pro', features: ['sso'] });
    expect((await call(sim(), 'GET', '/entitlements/acme')).body).toEqual({ customer: 'acme', plan: 'pro', features: ['sso'] });
    const put = await call(sim(), 'PUT', '/entitlements/globex', { body: { plan: 'team', features: [] } });
    expect(put).toMatchObject({ status: 200, body: { customer: 'globex', plan: 'team', features: [] } });
    expect((await call(sim(), 'GET', '/entitlements/globex')).status).toBe(200);
    expect(sim().effects()).toEqual([expect.objectContaining({ kind: 'entitlement.put', id: 'globex', body: { plan: 'team', features: [] } })]);
  });

  it('issues and voids invoices', async () => {
    const inv = await call(sim(), 'POST', '/billing/invoices', { body: { account: 'acc_1', amount: 120 } });
    expect(inv).toMatchObject({ status: 201, body: { id: 'inv_1', account: 'acc_1', amount: 120, status: 'open' } });
    expect((await call(sim(), 'POST', '/billing/invoices/inv_1/void')).body).toEqual({ id: 'inv_1', status: 'void' });
    expect((await call(sim(), 'POST', '/billing/invoices/inv_9/void')).status).toBe(404);
    expect(sim().count('billing.invoice.void')).toBe(1);
  });

  it('charges, lists and refunds', async () => {
    const ch = await call(sim(), 'POST', '/billing/charges', { body: { order: 'o1', amount: 5 } });
    expect(ch).toMatchObject({ status: 201, body: { id: 'ch_1', order: 'o1', amount: 5 } });
    expect((await call(sim(), 'GET', '/billing/charges?order=o1')).body.items).toEqual([{ id: 'ch_1', order: 'o1', amount: 5, refunded: false }]);
    expect((await call(sim(), 'POST', '/billing/charges/ch_1/refund')).body).toEqual({ id: 'ch_1', refunded: true });
    expect((await call(sim(), 'GET', '/billing/charges?order=o1')).body.items[0].refunded).toBe(true);
    expect((await call(sim(), 'GET', '/billing/charges?order=o2')).body.items).toEqual([]);
  });

  it('provisions, reports and deprovisions tenants', async () => {
    const t = await call(sim(), 'POST', '/provisioning/tenants', { body: { account: 'acc_1', plan: 'pro' } });
    expect(t).toMatchObject({ status: 201, body: { id: 'ten_1', account: 'acc_1', status: 'ready' } });
    expect((await call(sim(), 'GET', '/provisioning/tenants/ten_1')).body).toEqual({ id: 'ten_1', status: 'ready' });
    expect((await call(sim(), 'DELETE', '/provisioning/tenants/ten_1')).body).toEqual({ id: 'ten_1', deleted: true });
    expect((await call(sim(), 'GET', '/provisioning/tenants/ten_1')).status).toBe(404);
  });

  it('can make new tenants provision slowly, for verifiers that poll', async () => {
    sim().setState({ provisioning: { pollsUntilDone: 2, finalStatus: 'failed' } });
    expect((await call(sim(), 'POST', '/provisioning/tenants', { body: { account: 'a', plan: 'p' } })).body.status).toBe('provisioning');
    expect((await call(sim(), 'GET', '/provisioning/tenants/ten_1')).body.status).toBe('provisioning');
    expect((await call(sim(), 'GET', '/provisioning/tenants/ten_1')).body.status).toBe('failed');
    expect((await call(sim(), 'GET', '/provisioning/tenants/ten_1')).body.status).toBe('failed');
  });

  it('sends and lists emails', async () => {
    const m = await call(sim(), 'POST', '/email/messages', { body: { to: 'a@example.com', template: 'welcome', ref: 'T-1' } });
    expect(m).toMatchObject({ status: 201, body: { id: 'msg_1', to: 'a@example.com', template: 'welcome', ref: 'T-1' } });
    expect((await call(sim(), 'GET', '/email/messages?ref=T-1')).body.items).toHaveLength(1);
    expect((await call(sim(), 'GET', '/email/messages?ref=T-2')).body.items).toEqual([]);
  });

  it('decodes path segments, and survives malformed encoding', async () => {
    expect((await call(sim(), 'GET', '/services/billing%20api/health')).body.service).toBe('billing api');
    expect((await call(sim(), 'GET', '/entitlements/%zz')).status).toBe(404);
  });

  it('answers 404 to unknown routes and methods', async () => {
    expect(await call(sim(), 'GET', '/nope')).toMatchObject({ status: 404, body: { error: 'not found' } });
    expect((await call(sim(), 'PATCH', '/crm/accounts')).status).toBe(404);
  });

  it('records every request with raw headers and the status answered', async () => {
    await call(sim(), 'POST', '/crm/accounts?x=1', { body: { customer: 'c', plan: 'p' }, headers: { authorization: 'Bearer abc' } });
    const [r] = sim().requests();
    expect(r).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/crm/accounts',
      query: { x: '1' },
      body: { customer: 'c', plan: 'p' },
      status: 201,
      outcome: 'answered',
    });
    expect(r!.headers.authorization).toBe('Bearer abc');
  });

  it('reset forgets state, effects, requests and counters', async () => {
    sim().setService('s', { status: 'degraded', stayDegraded: true });
    await call(sim(), 'POST', '/services/s/restart');
    sim().reset();
    expect(sim().effects()).toEqual([]);
    expect(sim().requests()).toEqual([]);
    expect((await call(sim(), 'GET', '/services/s/health')).body.status).toBe('healthy');
    expect((await call(sim(), 'POST', '/services/s/restart')).body.id).toBe('rst_1');
  });
});

describe('simulated API control routes', () => {
  const sim = useSim();

  it('lists effects (optionally by kind) and requests', async () => {
    await call(sim(), 'POST', '/services/a/restart');
    await call(sim(), 'POST', '/email/messages', { body: { to: 't', template: 'x', ref: 'r' } });
    expect((await call(sim(), 'GET', '/_sim/effects')).body.items.map((e: { kind: string }) => e.kind)).toEqual([
      'service.restart',
      'email.message.send',
    ]);
    expect((await call(sim(), 'GET', '/_sim/effects?kind=service.restart')).body.items).toHaveLength(1);
    // Control calls are not themselves recorded.
    expect((await call(sim(), 'GET', '/_sim/requests')).body.items).toHaveLength(2);
  });

  it('sets and reports state, rejecting a malformed one with its problems', async () => {
    const r = await call(sim(), 'POST', '/_sim/state', {
      body: { services: { 'billing-api': { status: 'degraded', stayDegraded: true } }, entitlements: { acme: { plan: 'pro', features: [] } } },
    });
    expect(r.status).toBe(200);
    expect((await call(sim(), 'GET', '/services/billing-api/health')).body.status).toBe('degraded');
    expect((await call(sim(), 'GET', '/entitlements/acme')).status).toBe(200);
    expect((await call(sim(), 'GET', '/_sim/state')).body).toMatchObject({ token: null, services: { 'billing-api': { status: 'degraded' } } });
    const bad = await call(sim(), 'POST', '/_sim/state', { body: { services: { x: { status: 'on fire' } }, extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.problems.length).toBe(2);
  });

  it('resets over HTTP', async () => {
    await call(sim(), 'POST', '/services/a/restart');
    expect((await call(sim(), 'POST', '/_sim/reset')).status).toBe(200);
    expect(sim().effects()).toEqual([]);
  });

  it('answers 404 to unknown control routes', async () => {
    expect((await call(sim(), 'GET', '/_sim/nope')).status).toBe(404);
  });
});

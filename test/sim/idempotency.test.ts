import { describe, expect, it } from 'vitest';
import { call, useSim } from './fixture.js';

describe('simulated API idempotency', () => {
  const sim = useSim();
  const key = (k: string) => ({ headers: { 'idempotency-key': k } });

  it('replays the first response for a repeated key and applies nothing more', async () => {
    const body = { customer: 'c1', plan: 'pro' };
    const first = await call(sim(), 'POST', '/crm/accounts', { body, ...key('k1') });
    const again = await call(sim(), 'POST', '/crm/accounts', { body, ...key('k1') });
    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
    expect(sim().count('crm.account.create')).toBe(1);
    expect(sim().effects()[0]!.idempotencyKey).toBe('k1');
    expect(sim().requests().map((r) => r.replayed ?? false)).toEqual([false, true]);
  });

  it('treats a different key, method or path as a new request', async () => {
    await call(sim(), 'POST', '/services/a/restart', key('k'));
    await call(sim(), 'POST', '/services/b/restart', key('k'));
    await call(sim(), 'POST', '/services/a/restart', key('k2'));
    await call(sim(), 'POST', '/services/a/restart');
    await call(sim(), 'POST', '/services/a/restart');
    expect(sim().count('service.restart')).toBe(5);
    const replayed = await call(sim(), 'POST', '/services/a/restart', key('k'));
    expect(replayed.body.id).toBe('rst_1');
    expect(sim().count('service.restart')).toBe(5);
  });

  it('honours keys on PUT and DELETE', async () => {
    await call(sim(), 'PUT', '/entitlements/acme', { body: { plan: 'a', features: [] }, ...key('p') });
    await call(sim(), 'PUT', '/entitlements/acme', { body: { plan: 'b', features: [] }, ...key('p') });
    expect((await call(sim(), 'GET', '/entitlements/acme')).body.plan).toBe('a');
    await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' } });
    await call(sim(), 'DELETE', '/crm/accounts/acc_1', key('d'));
    const again = await call(sim(), 'DELETE', '/crm/accounts/acc_1', key('d'));
    expect(again).toMatchObject({ status: 200, body: { id: 'acc_1', deleted: true } });
    expect(sim().count('crm.account.delete')).toBe(1);
  });

  it('ignores the key on no-key routes: charges and emails cannot be deduplicated', async () => {
    const body = { order: 'o1', amount: 10 };
    await call(sim(), 'POST', '/billing/charges', { body, ...key('c') });
    const second = await call(sim(), 'POST', '/billing/charges', { body, ...key('c') });
    expect(second.body.id).toBe('ch_2');
    const mail = { to: 'x@example.com', template: 't', ref: 'r' };
    await call(sim(), 'POST', '/email/messages', { body: mail, ...key('m') });
    await call(sim(), 'POST', '/email/messages', { body: mail, ...key('m') });
    expect(sim().count('billing.charge.create')).toBe(2);
    expect(sim().count('email.message.send')).toBe(2);
  });

  it('does not keep failures: a rejected request retried with the same key is handled afresh', async () => {
    expect((await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c' }, ...key('k') })).status).toBe(400);
    expect((await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' }, ...key('k') })).status).toBe(201);
  });

  it('forgets keys on reset', async () => {
    await call(sim(), 'POST', '/services/a/restart', key('k'));
    sim().reset();
    await call(sim(), 'POST', '/services/a/restart', key('k'));
    expect(sim().count('service.restart')).toBe(1);
    expect(sim().requests()[0]!.replayed).toBeUndefined();
  });
});

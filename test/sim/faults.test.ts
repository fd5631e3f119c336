import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FaultBook, pathMatches } from '../../src/sim/faults.js';
import { startSim } from '../../src/sim/index.js';
import { call, useSim } from './fixture.js';

describe('fault matching', () => {
  it('matches paths exactly, or as a prefix with a trailing *', () => {
    expect(pathMatches('/services/a/restart', '/services/a/restart')).toBe(true);
    expect(pathMatches('/services/a/restart', '/services/a/restart/x')).toBe(false);
    expect(pathMatches('/services/*', '/services/b/health')).toBe(true);
    expect(pathMatches('/services/*', '/crm/accounts')).toBe(false);
    expect(pathMatches('*', '/anything')).toBe(true);
  });

  it('takes faults in order, counting down their uses', () => {
    const book = new FaultBook();
    book.add({ path: '/x', status: 503 });
    book.add({ path: '/x', status: 500, times: 2 });
    expect([1, 2, 3, 4].map(() => book.take('GET', '/x')?.status)).toEqual([503, 500, 500, undefined]);
  });

  it('keeps an always fault, and matches on method when given', () => {
    const book = new FaultBook();
    book.add({ method: 'post', path: '/x', status: 503, times: -1 });
    expect(book.take('GET', '/x')).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(book.take('POST', '/x')?.status).toBe(503);
    expect(book.list()).toEqual([expect.objectContaining({ left: -1 })]);
  });

  it('refuses malformed faults', () => {
    const book = new FaultBook();
    expect(() => book.add({ path: '/x' })).toThrow(/at least one of/);
    expect(() => book.add({ path: 'x', status: 500 })).toThrow();
    expect(() => book.add({ path: '/x', status: 500, times: 0 })).toThrow(/times/);
    expect(() => book.add({ path: '/x', status: 500, dropAfterEffect: true })).toThrow(/dropAfterEffect/);
    expect(() => book.add({ path: '/x', status: 500, colour: 'red' } as never)).toThrow();
  });
});

describe('simulated API faults', () => {
  const sim = useSim();

  it('answers a scripted status with Retry-After instead of handling the request', async () => {
    sim().fault({ method: 'POST', path: '/services/billing-api/restart', status: 503, retryAfter: 2, body: { error: 'busy' } });
    const r = await call(sim(), 'POST', '/services/billing-api/restart');
    expect(r).toMatchObject({ status: 503, body: { error: 'busy' } });
    expect(r.headers.get('retry-after')).toBe('2');
    expect(sim().count('service.restart')).toBe(0);
    // One use by default: the next one goes through.
    expect((await call(sim(), 'POST', '/services/billing-api/restart')).status).toBe(200);
    expect(sim().count('service.restart')).toBe(1);
    expect(sim().requests().map((q) => q.faulted ?? false)).toEqual([true, false]);
  });

  it('gives a default error body when the fault has none', async () => {
    sim().fault({ path: '/services/a/health', status: 500 });
    expect((await call(sim(), 'GET', '/services/a/health')).body).toEqual({ error: 'Internal Server Error' });
  });

  it('applies a fault `times` times, or always with -1', async () => {
    sim().fault({ path: '/services/a/health', status: 502, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(sim(), 'GET', '/services/a/health')).status);
    expect(statuses).toEqual([502, 502, 200]);
    sim().fault({ path: '/services/b/health', status: 500, times: -1 });
    for (let i = 0; i < 4; i++) expect((await call(sim(), 'GET', '/services/b/health')).status).toBe(500);
  });

  it('matches prefix paths and any method when none is given', async () => {
    sim().fault({ path: '/billing/*', status: 503, times: -1 });
    expect((await call(sim(), 'GET', '/billing/charges?order=o')).status).toBe(503);
    expect((await call(sim(), 'POST', '/billing/invoices', { body: { account: 'a', amount: 1 } })).status).toBe(503);
    expect((await call(sim(), 'GET', '/services/a/health')).status).toBe(200);
  });

  it('does not consume a fault meant for another method', async () => {
    sim().fault({ method: 'POST', path: '/crm/accounts', status: 500 });
    expect((await call(sim(), 'GET', '/crm/accounts')).status).toBe(200);
    expect((await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' } })).status).toBe(500);
  });

  it('delays an answer without blocking other requests, and stops when the client aborts', async () => {
    sim().fault({ path: '/services/slow/restart', delayMs: 60_000 });
    const arrived = once(sim().events, 'request');
    const abort = new AbortController();
    const slow = call(sim(), 'POST', '/services/slow/restart', { signal: abort.signal });
    await arrived;
    // Another request is answered while the first one waits.
    expect((await call(sim(), 'GET', '/services/fast/health')).status).toBe(200);
    const settled = once(sim().events, 'settled');
    abort.abort();
    await expect(slow).rejects.toThrow();
    const [record] = await settled;
    expect(record).toMatchObject({ path: '/services/slow/restart', outcome: 'aborted', status: null });
    expect(sim().count('service.restart')).toBe(0);
  });

  it('answers after a short delay, then handles the request', async () => {
    sim().fault({ path: '/services/a/restart', delayMs: 20 });
    expect((await call(sim(), 'POST', '/services/a/restart')).status).toBe(200);
    expect(sim().count('service.restart')).toBe(1);
  });

  it('combines a delay with a scripted status', async () => {
    sim().fault({ path: '/services/a/restart', delayMs: 10, status: 504 });
    expect((await call(sim(), 'POST', '/services/a/restart')).status).toBe(504);
    expect(sim().count('service.restart')).toBe(0);
  });

  it('dropAfterEffect applies the effect exactly once and the client sees a socket error', async () => {
    sim().fault({ method: 'POST', path: '/crm/accounts', dropAfterEffect: true });
    const settled = once(sim().events, 'settled');
    const err = await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' }, headers: { 'idempotency-key': 'k' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError); // fetch failed: the socket closed without an answer
    expect((await settled)[0]).toMatchObject({ outcome: 'dropped', status: null });
    expect(sim().count('crm.account.create')).toBe(1);
    // A retry with the same key gets the answer that was lost, and applies nothing.
    const retry = await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' }, headers: { 'idempotency-key': 'k' } });
    expect(retry).toMatchObject({ status: 201, body: { id: 'acc_1' } });
    expect(sim().count('crm.account.create')).toBe(1);
  });

  it('holdAfterEffectMs applies the effect, then holds the answer until the client goes away', async () => {
    sim().fault({ method: 'POST', path: '/services/a/restart', holdAfterEffectMs: 600_000 });
    const applied = once(sim().events, 'effect');
    const abort = new AbortController();
    const held = call(sim(), 'POST', '/services/a/restart', { signal: abort.signal });
    const [effect] = await applied;
    expect(effect).toMatchObject({ kind: 'service.restart', id: 'rst_1' });
    expect(sim().count('service.restart')).toBe(1);
    const settled = once(sim().events, 'settled');
    abort.abort();
    await expect(held).rejects.toThrow();
    expect((await settled)[0]).toMatchObject({ outcome: 'aborted', status: null });
  });

  it('holdAfterEffectMs answers normally once the hold is over', async () => {
    sim().fault({ path: '/services/a/restart', holdAfterEffectMs: 10 });
    expect(await call(sim(), 'POST', '/services/a/restart')).toMatchObject({ status: 200, body: { id: 'rst_1' } });
  });

  it('echoes the request headers and body in an error when asked (for masking tests)', async () => {
    sim().fault({ path: '/crm/accounts', echoHeaders: true });
    const r = await call(sim(), 'POST', '/crm/accounts', { body: { customer: 'c', plan: 'p' }, headers: { authorization: 'Bearer s3cret-token' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'Bad Request', received: { headers: { authorization: 'Bearer s3cret-token' }, body: { customer: 'c' } } });
    sim().fault({ path: '/crm/accounts', echoHeaders: true, status: 500, body: { error: 'bad request' } });
    const r2 = await call(sim(), 'GET', '/crm/accounts', { headers: { 'x-api-key': 'k3y' } });
    expect(r2).toMatchObject({ status: 500, body: { error: 'bad request', received: { headers: { 'x-api-key': 'k3y' } } } });
  });

  it('scripts faults over HTTP, validating them first', async () => {
    const ok = await call(sim(), 'POST', '/_sim/faults', { body: [{ path: '/services/*', status: 503, retryAfter: 1 }, { path: '/x', status: 500 }] });
    expect(ok.status).toBe(201);
    expect((await call(sim(), 'GET', '/_sim/faults')).body.items).toHaveLength(2);
    const bad = await call(sim(), 'POST', '/_sim/faults', { body: { path: '/y', status: 'soon' } });
    expect(bad.status).toBe(400);
    expect(bad.body.problems[0].path).toBe('0.status');
    expect((await call(sim(), 'GET', '/services/a/health')).headers.get('retry-after')).toBe('1');
    await call(sim(), 'DELETE', '/_sim/faults');
    expect((await call(sim(), 'GET', '/_sim/faults')).body.items).toEqual([]);
  });

  it('never faults the control routes', async () => {
    sim().fault({ path: '*', status: 500, times: -1 });
    expect((await call(sim(), 'GET', '/_sim/effects')).status).toBe(200);
  });
});

describe('closing the simulated API', () => {
  it('does not hang on a request held by a delay', async () => {
    const sim = await startSim();
    sim.fault({ path: '/services/a/health', delayMs: 600_000 });
    const arrived = once(sim.events, 'request');
    const pending = call(sim, 'GET', '/services/a/health');
    await arrived;
    await sim.close();
    await expect(pending).rejects.toThrow();
    await sim.close(); // a second close is harmless
  });
});

describe('simulated API auth', () => {
  const sim = useSim({ token: 'tok-123' });

  it('answers 401 without the right bearer token, and handles it with', async () => {
    expect((await call(sim(), 'GET', '/services/a/health')).status).toBe(401);
    expect((await call(sim(), 'GET', '/services/a/health', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await call(sim(), 'GET', '/services/a/health', { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    expect(sim().requests().map((r) => r.status)).toEqual([401, 401, 200]);
  });

  it('does not apply an effect or consume a fault for an unauthorized request', async () => {
    sim().fault({ path: '/services/a/restart', status: 503 });
    await call(sim(), 'POST', '/services/a/restart');
    expect(sim().count('service.restart')).toBe(0);
    expect((await call(sim(), 'POST', '/services/a/restart', { headers: { authorization: 'Bearer tok-123' } })).status).toBe(503);
  });

  it('can change or drop the token through state, and reset restores it', async () => {
    sim().setState({ token: null });
    expect((await call(sim(), 'GET', '/services/a/health')).status).toBe(200);
    await call(sim(), 'POST', '/_sim/state', { body: { token: 'other' } });
    expect((await call(sim(), 'GET', '/services/a/health', { headers: { authorization: 'Bearer other' } })).status).toBe(200);
    sim().reset();
    expect((await call(sim(), 'GET', '/services/a/health', { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
  });
});

/**
 * Fencing a claim: a worker whose lease renewals fail (the database blinked, the process stalled)
 * must neither start a second driver for a task it is still driving, nor let its action run on
 * past the point where another worker may take the task over.
 *
 * The renewals are made to fail by a handle that refuses the renewal statement while the step's
 * request is held by the simulated API; everything else reaches the database as usual.
 */
import { expect, it } from 'vitest';
import { RunwardenError } from '../../src/errors.js';
import type { Db } from '../../src/store/db.js';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();

/** `db`, except that lease renewals fail while `failing()` says so. */
function renewalsFailWhile(db: Db, failing: () => boolean): Db {
  return {
    ...db,
    query(text, params, opts) {
      if (opts?.name?.startsWith('rw_renew_lease') && failing()) {
        return Promise.reject(new RunwardenError('DATABASE_UNAVAILABLE', 'the database is unavailable (renewal refused by the test)', { details: { connection: true } }));
      }
      return db.query(text, params, opts);
    },
  };
}

/** Counts requests to `path` that were in flight at the same time as another one. */
function overlapCounter(path: string): { overlaps: () => number; posts: () => number } {
  let inFlight = 0;
  let overlaps = 0;
  let posts = 0;
  sim().events.on('request', (r) => {
    if (r.method !== 'POST' || r.path !== path) return;
    posts += 1;
    inFlight += 1;
    if (inFlight > 1) overlaps += 1;
  });
  sim().events.on('settled', (r) => {
    if (r.method === 'POST' && r.path === path) inFlight -= 1;
  });
  return { overlaps: () => overlaps, posts: () => posts };
}

const LEASE_MS = 600;

describeBackends('lease fencing', ({ db }) => {
  it('a worker whose renewals fail never re-claims the task it is still driving', async () => {
    const h = await harness(db(), sim());
    sim().setService('fence-self', { status: 'degraded' });
    // The restart is applied at once and answered only after the lease has long lapsed.
    sim().fault({ method: 'POST', path: '/services/fence-self/restart', holdAfterEffectMs: LEASE_MS * 3 });
    let held = false;
    sim().events.on('request', (r) => {
      if (r.path === '/services/fence-self/restart' && r.method === 'POST') held = true;
    });
    sim().events.on('settled', (r) => {
      if (r.path === '/services/fence-self/restart' && r.method === 'POST') held = false;
    });
    const task = await h.submit('t.restart', { service: 'fence-self' });

    await h.work({ db: renewalsFailWhile(db(), () => held), workerId: 'w-self', leaseMs: LEASE_MS, pollMs: 20 });

    const done = await h.task(task.id);
    expect(done.state).toBe('completed');
    const events = await h.events(task.id);
    // The worker never took over its own running task: a claim only ever followed a hand-back.
    expect(events.filter((e) => e.type === 'lease.acquired' && e.data.takeover === true)).toEqual([]);
    expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(false);
    // Each restart attempt was recorded as finished before the next one started.
    const restarts = events.filter((e) => e.step === 'restart' && e.data.kind === 'action' && (e.type === 'attempt.started' || e.type === 'attempt.finished'));
    expect(restarts.map((e) => e.type)).toEqual(restarts.map((_, i) => (i % 2 === 0 ? 'attempt.started' : 'attempt.finished')));
    expect(sim().count('service.restart')).toBe(1);
  });

  it('an action whose lease cannot be renewed is aborted at the margin and recorded as aborted', async () => {
    const h = await harness(db(), sim());
    sim().setService('fence-abort', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/fence-abort/restart', holdAfterEffectMs: 20_000 });
    let held = false;
    sim().events.on('request', (r) => {
      if (r.path === '/services/fence-abort/restart' && r.method === 'POST') held = true;
    });
    sim().events.on('settled', (r) => {
      if (r.path === '/services/fence-abort/restart' && r.method === 'POST') held = false;
    });
    const task = await h.submit('t.restart', { service: 'fence-abort' });
    const started = Date.now();

    await h.work({ db: renewalsFailWhile(db(), () => held), workerId: 'w-abort', leaseMs: LEASE_MS, pollMs: 20 });

    expect((await h.task(task.id)).state).toBe('completed');
    const restarts = sim().requests().filter((r) => r.method === 'POST' && r.path === '/services/fence-abort/restart');
    // Cut off long before the 20 s hold ended: the worker gave up on the request itself.
    expect(restarts[0]?.outcome).toBe('aborted');
    expect(Date.now() - started).toBeLessThan(15_000);
    const attempts = (await h.attempts(task.id)).filter((x) => x.step === 'restart' && x.kind === 'action');
    // The aborted attempt is recorded as such (a failure whose effect may have happened), then retried with its key.
    expect(attempts[0]).toMatchObject({ outcome: 'failed', failureClass: 'transient' });
    expect(attempts[0]?.error).toMatch(/abort/i);
    expect(attempts[1]?.outcome).toBe('succeeded');
    expect(new Set(restarts.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    expect(sim().count('service.restart')).toBe(1);
  });

  it('a worker cut off from the database stops its action before another worker can take the task over', async () => {
    const h = await harness(db(), sim());
    sim().setService('fence-other', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/fence-other/restart', holdAfterEffectMs: LEASE_MS * 4 });
    const counter = overlapCounter('/services/fence-other/restart');
    let cutOff = false;
    let startB: () => void = () => undefined;
    const bMayStart = new Promise<void>((resolve) => (startB = resolve));
    sim().events.on('request', (r) => {
      if (r.path === '/services/fence-other/restart' && r.method === 'POST' && !cutOff) {
        // From here on worker A reaches no database at all, and worker B is ready to take over.
        cutOff = true;
        startB();
      }
    });
    const task = await h.submit('t.restart', { service: 'fence-other' });

    const a = h.work({ db: unreachableWhile(db(), () => cutOff), workerId: 'w-a', leaseMs: LEASE_MS, pollMs: 20 });
    await bMayStart;
    await h.work({ workerId: 'w-b', leaseMs: LEASE_MS, pollMs: 20 });
    // B finished the task; A's database comes back and A finds the task is no longer its.
    cutOff = false;
    await a;

    expect((await h.task(task.id)).state).toBe('completed');
    // A's restart was cut off before its lease ran out: B's never overlapped it.
    expect(counter.overlaps()).toBe(0);
    const events = await h.events(task.id);
    // B treated A's unrecorded attempt as in doubt; nothing of A's was written after B's claim.
    const takeover = events.findIndex((e) => e.type === 'lease.acquired' && e.data.worker === 'w-b');
    expect(takeover).toBeGreaterThan(0);
    expect(events.slice(takeover).some((e) => e.actor === 'worker:w-a')).toBe(false);
    expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(true);
    // The keyed step kept its key across both workers, and the API applied it once.
    const keys = new Set(sim().requests().filter((r) => r.path === '/services/fence-other/restart').map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect(sim().count('service.restart')).toBe(1);
  });
});

/** `db`, except that every call fails as if the database were unreachable while `cut()` says so. */
function unreachableWhile(db: Db, cut: () => boolean): Db {
  const refuse = () => Promise.reject(new RunwardenError('DATABASE_UNAVAILABLE', 'the database is unavailable (cut off by the test)', { details: { connection: true } }));
  return {
    ...db,
    query: (text, params, opts) => (cut() ? refuse() : db.query(text, params, opts)),
    transaction: (fn) => (cut() ? refuse() : db.transaction(fn)),
  };
}

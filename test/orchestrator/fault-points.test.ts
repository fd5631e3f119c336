/**
 * One recovery test per fault point, in-process: a point armed to throw stands for the crash of
 * the driver (or the worker, or the deliverer) exactly there, between two durable writes. The
 * worker leaves the task to its lease, as a dead process would, and takes it over when the lease
 * lapses (a new claim); each test then checks that nothing was lost (the task ends as it would
 * have) and nothing done twice (each effect once at the simulated API, each packet once at the
 * sink), and that the ledger has no gap. The same points killing a real process are in
 * fault-kill.test.ts.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { DEFAULT_CLAIM_MS, deliverDue } from '../../src/escalation/outbox-delivery.js';
import { armFault, disarmFaults, FAULT_POINTS, isInjectedFault, type FaultPoint } from '../../src/fault-points.js';
import { createMasker } from '../../src/secrets/mask.js';
import type { Sim } from '../../src/sim/index.js';
import { listDeliveries } from '../../src/store/outbox.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { DRIVER_CASES } from '../helpers/fault-cases.js';

const sim = useSim();
afterEach(() => disarmFaults());

/** Short leases: a crashed driver's task is taken over within half a second. */
const LEASE_MS = 400;
it('every fault point has a recovery test here', () => {
  const covered = new Set<FaultPoint>([...DRIVER_CASES.map((c) => c.point), 'claim.before', 'claim.after', 'delivery.before-send', 'delivery.after-send', 'delivery.after-record']);
  expect([...FAULT_POINTS].filter((p) => !covered.has(p))).toEqual([]);
});

async function effectsOnce(s: Sim, expected: Record<string, number>, since: number): Promise<void> {
  const applied = s.effects().filter((e) => e.seq > since);
  const counts: Record<string, number> = {};
  for (const e of applied) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  expect(counts).toEqual(expected);
}

async function gapFree(h: Harness, taskId: string): Promise<void> {
  const events = await h.events(taskId);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

describeBackends('fault points: recovery after a crash at each one', ({ db }) => {
  let n = 0;
  const tag = (p: string) => `fp-${p.replace(/[^a-z]/g, '')}-${++n}`;

  it.each(DRIVER_CASES)('$point in $name: taken over, nothing lost or done twice', async (c) => {
    const h = await harness(db(), sim());
    const t = tag(c.point);
    c.arrange(sim(), t);
    const since = sim().effects().length;
    const task = await h.submit(c.taskClass, c.input(t));
    const fault = armFault(c.point, { step: c.step! });

    await h.work({ leaseMs: LEASE_MS, pollMs: 20 });
    expect(fault.fired()).toBe(1);

    const events = await h.events(task.id);
    // The crash happened (the task was taken over from a dead driver) and the task ended as it would have.
    expect(events.filter((e) => e.type === 'lease.acquired' && e.data.takeover === true)).toHaveLength(c.takeover ? 1 : 0);
    expect((await h.task(task.id)).state).toBe(c.ends);
    expect(events.some((e) => e.type === 'attempt.in_doubt')).toBe(c.inDoubt);
    expect(events.some((e) => e.type === 'escalated')).toBe(false);
    await effectsOnce(sim(), c.effects, since);
    await gapFree(h, task.id);
  });

  it.each(['claim.before', 'claim.after'] as const)('%s: the worker dies around its claim; the next one finishes the task once', async (point) => {
    const h = await harness(db(), sim());
    const t = tag(point);
    sim().setService(t, { status: 'degraded' });
    const since = sim().effects().length;
    const task = await h.submit('t.restart', { service: t });
    const fault = armFault(point);

    const crashed = await h.work({ leaseMs: LEASE_MS, pollMs: 20 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isInjectedFault(crashed)).toBe(true);
    expect(fault.fired()).toBe(1);
    await h.work({ leaseMs: LEASE_MS, pollMs: 20 });

    expect((await h.task(task.id)).state).toBe('completed');
    const leases = (await h.events(task.id)).filter((e) => e.type === 'lease.acquired');
    // After a claim that committed, the next worker takes the task over from the dead one.
    expect(leases.map((e) => e.data.takeover)).toEqual(point === 'claim.after' ? [false, true] : [false]);
    await effectsOnce(sim(), { 'service.restart': 1 }, since);
    await gapFree(h, task.id);
  });

  it.each(['delivery.before-send', 'delivery.after-send', 'delivery.after-record'] as const)(
    '%s: the deliverer dies mid-delivery; the packet reaches the sink once and is recorded once',
    async (point) => {
      const h = await harness(db(), sim());
      const file = join(await mkdtemp(join(tmpdir(), 'rw-fp-')), 'packets.jsonl');
      const config = deploymentConfig({ secrets: h.secrets, sinks: { archive: { name: 'archive', type: 'file', path: file } }, routes: { default: ['archive'] } });
      const masker = createMasker(config.secretValues());
      const esc = escalationHooks({ config, runbooks: h.runbooks, masker });
      const t = tag(point);
      sim().setService(t, { status: 'degraded' });
      sim().fault({ method: 'POST', path: `/services/${t}/restart`, status: 403 });
      const task = await h.submit('t.restart', { service: t });
      await h.work({ hooks: esc.hooks, leaseMs: LEASE_MS, pollMs: 20 });
      expect((await h.task(task.id)).state).toBe('escalated');

      const fault = armFault(point);
      const crashed = await deliverDue({ db: db(), config, masker, now: new Date() }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(isInjectedFault(crashed)).toBe(true);
      expect(fault.fired()).toBe(1);
      // Another deliverer, once the dead one's claim has lapsed.
      await deliverDue({ db: db(), config, masker, now: new Date(Date.now() + DEFAULT_CLAIM_MS + 1000) });

      const [row] = await listDeliveries(db(), { taskId: task.id });
      expect(row?.state).toBe('delivered');
      const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.includes(task.id));
      expect(lines).toHaveLength(1);
      const delivered = (await h.events(task.id)).filter((e) => e.type === 'packet.delivery' && e.data.ok === true);
      expect(delivered).toHaveLength(1);
      await gapFree(h, task.id);
    },
  );
});

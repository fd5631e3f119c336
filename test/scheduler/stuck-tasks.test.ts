/**
 * The stuck-task watchdog on both backends, on a fake clock: a task whose worker died (lease run
 * out, nobody took over) or hangs (lease still renewed, nothing written) is escalated through the
 * transition table once it has been quiet past its step's limit plus a lease and seen so twice;
 * the worker's claim is gone after; a task whose worker writes again (after a database outage,
 * say) is left alone; tasks nobody holds, or that wait for people, are not the watchdog's.
 */
import { expect, it, vi } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { StuckTaskWatch, quietLimitMs } from '../../src/scheduler/index.js';
import { createMasker } from '../../src/secrets/mask.js';
import { writeCheckpoint } from '../../src/store/checkpoints.js';
import { claimTasks, leaseOf, renewLease } from '../../src/store/claim.js';
import { listPackets } from '../../src/store/packets.js';
import { applyChange, getTask, listEvents, type TaskRow } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock, type FakeClock } from '../helpers/clock.js';
import { scheduleRunbooks } from '../helpers/schedules.js';

vi.setConfig({ testTimeout: 60_000 });
const LEASE = 30_000;

describeBackends('the stuck-task watchdog', ({ db }) => {
  async function setup(start: string) {
    const clock = fakeClock(start);
    const runbooks = await scheduleRunbooks('s-ops');
    const watch = new StuckTaskWatch({ db: db(), runbooks, emit: { config: deploymentConfig(), masker: createMasker([]) }, logger: silentLogger, leaseMs: LEASE });
    /** A task claimed by `worker` and on its first step, as a driver leaves it after a checkpoint. */
    const claimed = async (worker: string): Promise<TaskRow> => {
      const { task } = await submitTask(db(), runbooks, { taskClass: 's.ops', input: { service: 'x' } }, { now: clock.now(), env: {}, secrets: {} });
      const [c] = await claimTasks(db(), { workerId: worker, now: clock.now(), leaseMs: LEASE, limit: 1, exclude: [] });
      expect(c!.task.id).toBe(task.id);
      return writeCheckpoint(db(), { taskId: task.id, lease: leaseOf(c!.task), now: clock.now(), commit: { patch: { currentStep: 'check' }, events: [{ type: 'step.started', step: 'check' }] }, release: false });
    };
    return { clock, runbooks, watch, claimed };
  }
  const after = (clock: FakeClock, ms: number) => {
    clock.advance(ms);
    return clock.now();
  };

  it('escalates a task whose worker died, once it has been quiet past its limit and seen so twice, and fences the worker out', async () => {
    const { clock, runbooks, watch, claimed } = await setup('2026-03-01T10:00:00Z');
    const task = await claimed('wrk_dead');
    const limit = quietLimitMs(runbooks.byId.get('s-ops'), 'check') + LEASE;
    expect(limit).toBe(2_000 + LEASE); // the step's 2s timeout plus the lease

    expect(await watch.look(after(clock, limit))).toEqual({ watching: 0, escalated: [] });
    expect(await watch.look(after(clock, 1_000))).toEqual({ watching: 1, escalated: [] });
    expect(await watch.look(after(clock, LEASE - 1_000))).toEqual({ watching: 1, escalated: [] });
    const { escalated } = await watch.look(after(clock, 1_000));
    expect(escalated.map((t) => t.id)).toEqual([task.id]);

    const t = (await getTask(db(), task.id))!;
    expect(t).toMatchObject({ state: 'escalated', leaseOwner: null, leaseExpiresAt: null, escalation: { kind: 'ambiguous_state', failureClass: 'timeout', step: 'check' } });
    expect(t.escalation!.message).toMatch(/^no progress for 1m 3s|^no progress for 63s/);
    expect(t.escalation!.message).toContain('worker wrk_dead stopped or hung without handing it back (its lease ran out at 2026-03-01T10:00:30.000Z)');
    const tail = (await listEvents(db(), task.id)).slice(-3);
    expect(tail.map((e) => [e.type, e.actor])).toEqual([
      ['escalated', 'watchdog'],
      ['state.changed', 'watchdog'],
      ['packet.emitted', 'escalation'],
    ]);
    expect(tail[1]!.data).toEqual({ from: 'running', to: 'escalated' });
    expect((await listPackets(db(), task.id)).map((p) => p.reason)).toEqual(['ambiguous_state']);
    // The dead worker, were it to come back, holds nothing.
    expect(await renewLease(db(), { taskId: task.id, lease: leaseOf(task), now: clock.now(), leaseMs: LEASE })).toBeNull();
  });

  it('escalates a task whose worker hangs in an action while still renewing its lease', async () => {
    const { clock, watch, claimed } = await setup('2026-03-02T10:00:00Z');
    const task = await claimed('wrk_hung');
    const renew = () => renewLease(db(), { taskId: task.id, lease: leaseOf(task), now: clock.now(), leaseMs: LEASE });
    // Renewed every 10 s, never a write: first seen stuck at 40 s (past 2 s + the lease), escalated a lease later.
    const escalatedAt: number[] = [];
    for (let s = 10; s <= 90; s += 10) {
      clock.advance(10_000);
      if ((await renew()) === null) break;
      if ((await watch.look(clock.now())).escalated.length) escalatedAt.push(s);
    }
    expect(escalatedAt).toEqual([70]);
    const t = (await getTask(db(), task.id))!;
    expect(t.state).toBe('escalated');
    expect(t.escalation!.message).toContain('worker wrk_hung stopped or hung without handing it back (it still renews its lease)');
    expect(await renew()).toBeNull();
  });

  it('leaves a task alone whose worker writes again after looking stuck (the checkpoint it held through a database outage)', async () => {
    const { clock, watch, claimed } = await setup('2026-03-03T10:00:00Z');
    const task = await claimed('wrk_back');
    // The database was away for five minutes: the task looks quiet far past its limit.
    expect(await watch.look(after(clock, 300_000))).toEqual({ watching: 1, escalated: [] });
    // It is back: the worker renews and lands the checkpoint it was holding.
    clock.advance(2_000);
    expect(await renewLease(db(), { taskId: task.id, lease: leaseOf(task), now: clock.now(), leaseMs: LEASE })).not.toBeNull();
    await writeCheckpoint(db(), { taskId: task.id, lease: leaseOf(task), now: clock.now(), commit: { patch: {}, events: [{ type: 'attempt.finished', step: 'check', data: { outcome: 'succeeded' } }] }, release: false });
    expect(await watch.look(after(clock, LEASE))).toEqual({ watching: 0, escalated: [] });
    expect((await getTask(db(), task.id))!.state).toBe('running');
    // Finished, so the next test's claims do not find it.
    await writeCheckpoint(db(), { taskId: task.id, lease: leaseOf(task), now: clock.now(), commit: { to: 'completed', patch: { currentStep: null }, events: [] }, release: true });
  });

  it('escalates a stuck compensation as compensation_failed, and leaves what nobody holds or people wait on', async () => {
    const { clock, runbooks, watch, claimed } = await setup('2026-03-04T10:00:00Z');
    const comp = await claimed('wrk_comp');
    await applyChange(db(), { taskId: comp.id, now: clock.now(), to: 'compensating', expect: { leaseOwner: 'wrk_comp' }, events: [{ type: 'compensation.started', step: 'check', actor: 'worker:wrk_comp' }] });
    const retrying = await claimed('wrk_retry');
    await applyChange(db(), { taskId: retrying.id, now: clock.now(), to: 'retry_scheduled', patch: { leaseOwner: null, leaseExpiresAt: null, nextAttemptAt: clock.now() }, events: [{ type: 'retry.scheduled', actor: 'worker:wrk_retry' }] });
    const waiting = (await submitTask(db(), runbooks, { taskClass: 's.ops', input: { service: 'y' } }, { now: clock.now(), env: {}, secrets: {} })).task;
    for (let i = 0; i < 4; i++) await watch.look(after(clock, 3_600_000));
    expect((await getTask(db(), comp.id))!).toMatchObject({ state: 'escalated', escalation: { kind: 'compensation_failed', failureClass: 'timeout' } });
    expect((await getTask(db(), waiting.id))!.state).toBe('queued');
    expect((await getTask(db(), retrying.id))!.state).toBe('retry_scheduled');
  });
});

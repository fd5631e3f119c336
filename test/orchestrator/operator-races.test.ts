/**
 * Operator actions race workers: an action reads the task, decides, and writes; a worker may
 * write in between. The action's write is fenced by the task's `event_seq` as it read it (a
 * conflict is TASK_CHANGED, retryable), and a cancel's "does a worker hold it?" is decided in the
 * write itself, at the action's clock. Each test puts a worker's write between the action's read
 * and its write (the database handle runs it right after the action's read).
 */
import { expect, it } from 'vitest';
import { createExecutor } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { driveTask } from '../../src/orchestrator/driver.js';
import { cancel, retry, type ActionContext } from '../../src/orchestrator/operator.js';
import { claimTasks, renewLease } from '../../src/store/claim.js';
import type { Db } from '../../src/store/db.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();
const who = { operator: 'ana', reason: 'on call' };

/** The database, with `between` run once right after the next read of a task (the action's read). */
function interleaved(db: Db, between: () => Promise<void>): Db {
  let pending = true;
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return async (text: string, params?: unknown[], opts?: { name?: string }) => {
          const rows = await target.query(text, params, opts);
          if (pending && opts?.name === 'rw_get_task') {
            pending = false;
            await between();
          }
          return rows;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** One worker pass at `now`: claims what is due and drives it until it lets go. */
async function workOnce(h: Harness, db: Db, now: Date, workerId = 'wrk_test'): Promise<void> {
  const clock = { now: () => now, sleep: async () => undefined };
  for (const { task } of await claimTasks(db, { workerId, now, leaseMs: 60_000, limit: 10 })) {
    const never = new AbortController().signal;
    await driveTask(
      { db, runbooks: h.runbooks, executor: createExecutor(), clock, logger: silentLogger, workerId, env: h.env, secrets: h.secrets },
      task,
      { actionSignal: () => never, wake: never, stopping: () => false, halted: () => false, lost: () => false, cancelled: () => false, leaseReady: async () => true },
    );
  }
}

describeBackends('operator actions racing workers', ({ db }) => {
  it('retry from retry_scheduled after a worker ran an attempt meanwhile: refused, the counters are not rolled back', async () => {
    const h = await harness(db(), sim());
    sim().setService('race-a', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/race-a/restart', status: 503, times: -1 });
    const t = await h.submit('t.restart', { service: 'race-a' });
    const t0 = new Date();
    await workOnce(h, db(), t0);
    expect((await h.task(t.id)).state).toBe('retry_scheduled');

    const later = new Date(t0.getTime() + 5000);
    const ctx: ActionContext = { db: interleaved(db(), () => workOnce(h, db(), later)), runbooks: h.runbooks, now: later };
    await expect(retry(ctx, t.id, who)).rejects.toMatchObject({ code: 'TASK_CHANGED', retryable: true });
    const after = await h.task(t.id);
    expect(after.cursor).toMatchObject({ counters: { 'action:restart': 2 } });

    // Read again, the retry goes through; the next attempt is number 3, not a second number 2.
    await retry({ db: db(), runbooks: h.runbooks, now: later }, t.id, who);
    await workOnce(h, db(), new Date(later.getTime() + 1000));
    const attempts = (await h.attempts(t.id)).filter((a) => a.kind === 'action' && a.step === 'restart').map((a) => a.attempt);
    expect(attempts).toEqual([1, 2, 3]);
    expect((await h.task(t.id)).escalation?.failureClass).not.toBe('internal');
  });

  it('cancel does not decide from a stale read: a worker that claimed the task meanwhile is not bypassed', async () => {
    const h = await harness(db(), sim());
    const t = await h.submit('t.restart', { service: 'race-b' });
    const now = new Date();
    // A dead worker's task: its lease ran out.
    await db().query(`UPDATE tasks SET state = 'running', lease_owner = 'wrk_dead', lease_expires_at = $2 WHERE id = $1`, [t.id, new Date(now.getTime() - 1000)]);
    const ctx: ActionContext = { db: interleaved(db(), async () => void (await claimTasks(db(), { workerId: 'wrk_new', now, leaseMs: 60_000, limit: 1 }))), runbooks: h.runbooks, now };
    await expect(cancel(ctx, t.id, who)).rejects.toMatchObject({ code: 'TASK_CHANGED' });
    expect((await h.task(t.id))).toMatchObject({ state: 'running', leaseOwner: 'wrk_new', cancelRequested: false });
    const again = await cancel({ db: db(), runbooks: h.runbooks, now }, t.id, who);
    expect(again.pending).toBe(true);
    expect(again.task).toMatchObject({ state: 'running', cancelRequested: true });
  });

  it("cancel checks the lease in its write: a lease renewed after the read is a held task's", async () => {
    const h = await harness(db(), sim());
    const t = await h.submit('t.restart', { service: 'race-c' });
    const now = new Date();
    await db().query(`UPDATE tasks SET state = 'running', lease_owner = 'wrk_slow', lease_expires_at = $2 WHERE id = $1`, [t.id, new Date(now.getTime() - 1000)]);
    // The worker was slow, not dead: its renewal lands after the cancel read the lease as expired.
    const ctx: ActionContext = { db: interleaved(db(), async () => void (await renewLease(db(), { taskId: t.id, lease: { workerId: 'wrk_slow', epoch: 0 }, now, leaseMs: 30_000 }))), runbooks: h.runbooks, now };
    const r = await cancel(ctx, t.id, who);
    expect(r.pending).toBe(true);
    expect(r.task).toMatchObject({ state: 'running', cancelRequested: true, leaseOwner: 'wrk_slow' });
  });
});

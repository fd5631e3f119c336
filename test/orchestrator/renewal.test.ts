/**
 * Lease renewal is one statement per worker per tick, whatever the number of tasks it drives,
 * and a task whose lease another claim took is told so by that same statement.
 */
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createExecutor, pluginActions } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { Db } from '../../src/store/db.js';
import { getTask } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';

const plugins = pluginActions({
  hold: {
    schema: z.object({}).passthrough(),
    changes: false,
    run: async (_i, ctx) => {
      // Long enough for several renewal ticks; ends early if the lease is lost.
      await new Promise<void>((r) => {
        const t = setTimeout(r, 3500);
        ctx.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
      return ctx.signal.aborted ? { kind: 'error', failureClass: 'transient', message: 'aborted' } : { kind: 'result', result: {} };
    },
  },
});
const { runbook, problems } = compileRunbookText(
  `
runbook: hold
version: 1
title: One long look
owner: test
taskClasses: [t.hold]
policy: { deadline: 1h, retryBudget: 0 }
steps:
  - { id: one, action: hold }
`,
  'hold.yaml',
  { plugins },
);
if (!runbook) throw new Error(problems.map((p) => p.message).join('; '));
const runbooks = buildRunbookSet([runbook]);

describeBackends('lease renewal', ({ db }) => {
  it('renews the leases of all the tasks a worker drives in one statement per tick', async () => {
    const real = db();
    const renewals: number[] = [];
    const counting: Db = {
      ...real,
      kind: real.kind,
      target: real.target,
      query: (text, params, o) => {
        if (o?.name === 'rw_renew_leases') renewals.push((params?.[0] as unknown[]).length);
        return real.query(text, params, o);
      },
    };
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submitTask(real, runbooks, { taskClass: 't.hold', input: {} }, { now: new Date(), env: {}, secrets: {} })).task.id);
    const worker = new Worker({ db: counting, runbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: 4, leaseMs: 3000 });
    await worker.runUntilIdle();
    for (const id of ids) expect((await getTask(real, id))!.escalation?.message ?? "completed").toBe("completed");
    // Several ticks happened while all four ran, each one statement for the four leases.
    expect(renewals.filter((n) => n === 4).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...renewals)).toBe(4);
  });
});

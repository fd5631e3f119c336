/**
 * Wake-ups: a task submitted while the worker is inside its claim query is picked up at once,
 * not after a poll interval (the claim may have run on a snapshot from before the task
 * committed, and the wake-up that announced it came while nobody was waiting).
 *
 * The poll intervals are a minute here, so a lost wake-up shows as a task still queued.
 */
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createExecutor, pluginActions } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { Worker, WAKE_CHANNEL } from '../../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { Db } from '../../src/store/db.js';
import { getTask } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';

const plugins = pluginActions({ look: { schema: z.object({}).passthrough(), changes: false, run: async () => ({ kind: 'result', result: {} }) } });
const { runbook } = compileRunbookText(
  `
runbook: wake
version: 1
title: One look
owner: test
taskClasses: [t.wake]
policy: { deadline: 1h }
steps:
  - { id: one, action: look }
`,
  'wake.yaml',
  { plugins },
);
const runbooks = buildRunbookSet([runbook!]);
const submit = (db: Db) => submitTask(db, runbooks, { taskClass: 't.wake', input: {} }, { now: new Date(), env: {}, secrets: {} });

async function stateWithin(db: Db, id: string, want: string, ms: number): Promise<string> {
  const until = Date.now() + ms;
  let state = '';
  while (Date.now() < until) {
    state = (await getTask(db, id))!.state;
    if (state === want) return state;
    await new Promise((r) => setTimeout(r, 20));
  }
  return state;
}

describeBackends('wake-ups', ({ db }) => {
  it('a task submitted while a claim is in flight is claimed without waiting for a poll', async () => {
    const real = db();
    let armed: (() => Promise<void>) | null = null;
    let heard: ((payload: string) => void) | null = null;
    // The claim runs, then (before its answer reaches the worker) a task is submitted and its
    // wake-up delivered: the claim's answer cannot hold that task.
    const wrapped: Db = {
      ...real,
      kind: real.kind,
      target: real.target,
      query: async (text, params, o) => {
        const rows = await real.query(text, params, o);
        if (o?.name === 'rw_claim' && armed) {
          const during = armed;
          armed = null;
          await during();
        }
        return rows as never;
      },
      listen: (channel, onNotify, onState) =>
        real.listen(
          channel,
          (p) => {
            onNotify(p);
            heard?.(p);
          },
          onState,
        ),
    };
    const worker = new Worker({ db: wrapped, runbooks, executor: createExecutor({ plugins }), logger: silentLogger, pollMs: 60_000, listeningPollMs: 60_000 });
    const running = worker.run();
    try {
      let lateId = '';
      // Armed once the worker sits idle, so the claim it catches is the one the wake-up below starts.
      await new Promise((r) => setTimeout(r, 200));
      const idle = new Promise<void>((resolve) => {
        armed = async () => {
          // Heard payloads are kept: the wake-up may come before the submission's own answer.
          const payloads = new Set<string>();
          let check = () => undefined as void;
          heard = (p) => {
            payloads.add(p);
            check();
          };
          lateId = (await submit(real)).task.id;
          await new Promise<void>((r) => {
            check = () => (payloads.has(lateId) ? r() : undefined);
            check();
          });
          resolve();
        };
      });
      // Wake the idle worker with nothing new: its claim finds nothing, and meanwhile a task comes.
      await real.notify(WAKE_CHANNEL, 'nothing');
      await idle;
      expect(await stateWithin(real, lateId, 'completed', 10_000)).toBe('completed');
    } finally {
      await worker.stop();
      await running;
    }
  });

  it('intake wakes an idle listening worker: the first action starts without a poll', async () => {
    const real = db();
    const worker = new Worker({ db: real, runbooks, executor: createExecutor({ plugins }), logger: silentLogger, pollMs: 60_000, listeningPollMs: 60_000 });
    const running = worker.run();
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 3; i++) {
        const { task } = await submit(real);
        expect(await stateWithin(real, task.id, 'completed', 10_000)).toBe('completed');
      }
    } finally {
      await worker.stop();
      await running;
    }
  });
});

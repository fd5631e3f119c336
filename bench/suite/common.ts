/**
 * What every part of the bench suite shares: the no-op runbooks, fast task seeding, percentiles
 * and the JSON-lines record a measurement becomes.
 */
import { z } from 'zod';
import { pluginActions } from '../../src/agents/index.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import type { Db } from '../../src/store/db.js';

/** One measurement, as appended to bench/results/*.jsonl. */
export interface Sample {
  run: string;
  round: number;
  /** `postgres`, `embedded`, or `-` for figures that are not about a backend. */
  backend: string;
  /** What was measured: `rw-1step`, `rw-3step`, `raw`, `dbos-3step`, `graphile-1job`, `overhead`, `submit-latency`, `claim`, `list-escalated`, `rss`. */
  subject: string;
  concurrency?: number;
  /** The figure's name: `tasks_per_s`, `steps_per_s`, `p50_ms`, `p99_ms`, `rss_mb`... */
  metric: string;
  value: number;
  /** Extra facts: table size, backlog, query plan. */
  detail?: Record<string, unknown>;
}

/** Step timings the no-op actions record (performance.now() at start and end). */
export interface ActionTimes {
  enabled: boolean;
  byTask: Map<string, Array<{ start: number; end: number }>>;
  firstStart: Map<string, number>;
}

export const actionTimes: ActionTimes = { enabled: false, byTask: new Map(), firstStart: new Map() };

function record(taskId: string, start: number): void {
  if (!actionTimes.firstStart.has(taskId)) actionTimes.firstStart.set(taskId, start);
  if (!actionTimes.enabled) return;
  const list = actionTimes.byTask.get(taskId) ?? [];
  list.push({ start, end: performance.now() });
  actionTimes.byTask.set(taskId, list);
}

/** `noop` changes something (its steps need `repeat`), `look` does not; both do nothing. */
export const plugins = pluginActions({
  noop: {
    schema: z.object({}).passthrough(),
    changes: true,
    run: async (_input, ctx) => {
      const start = performance.now();
      record((ctx.expr as { task: { id: string } }).task.id, start);
      return { kind: 'result', result: { ok: true } };
    },
  },
  look: {
    schema: z.object({}).passthrough(),
    changes: false,
    run: async (_input, ctx) => {
      const start = performance.now();
      record((ctx.expr as { task: { id: string } }).task.id, start);
      return { kind: 'result', result: { ok: true } };
    },
  },
});

const ONE_STEP = `
runbook: bench-one
version: 1
title: One keyed no-op step
owner: bench
taskClasses: [bench.one]
policy: { deadline: 1h, retryBudget: 0 }
steps:
  - { id: one, action: noop, repeat: keyed }
`;

const THREE_STEP = `
runbook: bench-three
version: 1
title: Safe, keyed, keyed no-op steps
owner: bench
taskClasses: [bench.three]
policy: { deadline: 1h, retryBudget: 0 }
steps:
  - { id: one, action: look, repeat: safe }
  - { id: two, action: noop, repeat: keyed }
  - { id: three, action: noop, repeat: keyed }
`;

function compile(text: string, file: string) {
  const { runbook, problems } = compileRunbookText(text, file, { plugins });
  if (!runbook) throw new Error(problems.map((p) => p.message).join('; '));
  return runbook;
}

export const runbooks: RunbookSet = buildRunbookSet([compile(ONE_STEP, 'bench-one.yaml'), compile(THREE_STEP, 'bench-three.yaml')]);

/** The task class of the 1-step and the 3-step runbook. */
export const CLASSES = { 1: 'bench.one', 3: 'bench.three' } as const;

/**
 * Queues `n` tasks of `taskClass`: one through intake (so the row and its first event are what
 * intake writes), the rest copied from it in one statement, so seeding 5,000 tasks takes a
 * moment instead of dominating the run. `state` other than queued makes finished history.
 */
export async function seedTasks(db: Db, taskClass: string, n: number, o: { state?: string; prefix?: string; events?: boolean } = {}): Promise<void> {
  if (n <= 0) return;
  const { task } = await submitTask(db, runbooks, { taskClass, input: {} }, { now: new Date(), env: {}, secrets: {} });
  if (n === 1 && !o.state) return;
  const prefix = o.prefix ?? `b${Date.now().toString(36)}`;
  await db.query(
    `WITH src AS (SELECT * FROM tasks WHERE id = $1),
     ins AS (
       INSERT INTO tasks (id, task_class, runbook_id, runbook_version, runbook_hash, requested_by, input, priority, state, steps, cursor,
                          retry_limit, deadline_at, event_seq, created_at, updated_at)
       SELECT $2 || g, task_class, runbook_id, runbook_version, runbook_hash, requested_by, input, priority, COALESCE($4, state), steps, cursor,
              retry_limit, deadline_at, 1, created_at + g * interval '1 microsecond', updated_at
       FROM src, generate_series(1, $3::int) AS g
       RETURNING id, created_at
     )
     INSERT INTO events (task_id, seq, at, type, step, actor, data)
     SELECT ins.id, 1, ins.created_at, e.type, e.step, e.actor, e.data FROM ins, events e WHERE e.task_id = $1 AND e.seq = 1 AND $5::boolean`,
    [task.id, `tsk_${prefix}_`, o.state ? n : n - 1, o.state ?? null, o.events !== false],
  );
  if (o.state) await db.query('DELETE FROM events WHERE task_id = $1', [task.id]).then(() => db.query('DELETE FROM tasks WHERE id = $1', [task.id]));
}

/** Empties the task tables between measurements (runbook versions stay). */
export async function clearTasks(db: Db): Promise<void> {
  await db.query('TRUNCATE tasks, events, attempts, packets, outbox CASCADE');
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/**
 * Storing an intake decision: a `queued` task or a `rejected` one with its reasons, with its
 * first ledger event. `externalRef` deduplicates through the unique index (ON CONFLICT), never
 * read-then-write, so concurrent submissions of one ref create exactly one task.
 */
import type { TaskState, WorkRole } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { mapTaskRow, type StepRecord, type TaskRow } from './tasks.js';

/** A task as intake decided it: `queued` with every step pending, or `rejected` with its reasons. */
export interface NewTask {
  id: string;
  externalRef: string | null;
  taskClass: string;
  runbookId: string | null;
  runbookVersion: number | null;
  /** The content hash of the runbook version the task starts with (stored in runbook_versions). */
  runbookHash?: string | null;
  requestedBy: string | null;
  input: Record<string, unknown>;
  priority: number;
  state: Extract<TaskState, 'queued' | 'rejected'>;
  steps: Record<string, StepRecord>;
  retryLimit: number;
  deadlineAt: Date | null;
  rejection: unknown;
  /** The role of the task's first work (its first step's); null: any worker. */
  awaitingRole?: WorkRole | null;
  /** `policy.concurrency`: the key's value for this task, and the limit. */
  concurrency?: { key: string; limit: number } | null;
  event: { type: 'intake.accepted' | 'intake.rejected'; actor: string; data: Record<string, unknown> };
}

const INSERT_SQL = `
WITH t AS (
  INSERT INTO tasks (id, external_ref, task_class, runbook_id, runbook_version, requested_by, input, priority, state,
                     steps, retry_limit, deadline_at, rejection, event_seq, created_at, updated_at, runbook_hash,
                     awaiting_role, concurrency_key, concurrency_limit)
  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12, $13::jsonb, 1, $14, $14, $18, $19, $20, $21)
  ON CONFLICT (external_ref) DO NOTHING
  RETURNING *
), ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT id, 1, $14, $15, NULL, $16, $17::jsonb FROM t
)
-- A queued task wakes the workers in the same round trip: NOTIFY is delivered at commit, so a
-- worker woken by it finds the row. CASE, not OR: only CASE evaluates in order.
SELECT * FROM t WHERE CASE WHEN t.state = 'queued' AND $22::text IS NOT NULL THEN pg_notify($22, t.id) IS NOT NULL ELSE true END`;

/** The task with this externalRef (by externalRef only, never by id), or undefined. */
export async function taskByExternalRef(db: Db, externalRef: string): Promise<TaskRow | undefined> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM tasks WHERE external_ref = $1', [externalRef], { name: 'rw_task_by_external_ref' });
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

/**
 * Inserts the task, or returns the existing one with the same externalRef (`created: false`).
 * With `notify`, a queued task is announced on that channel by the same statement.
 */
export async function insertTask(db: Db, t: NewTask, now: Date, o: { notify?: string } = {}): Promise<{ task: TaskRow; created: boolean }> {
  const rows = await db.query<Record<string, unknown>>(INSERT_SQL, [
    t.id,
    t.externalRef,
    t.taskClass,
    t.runbookId,
    t.runbookVersion,
    t.requestedBy,
    JSON.stringify(t.input),
    t.priority,
    t.state,
    JSON.stringify(t.steps),
    t.retryLimit,
    t.deadlineAt,
    t.rejection === null ? null : JSON.stringify(t.rejection),
    now,
    t.event.type,
    t.event.actor,
    JSON.stringify(t.event.data),
    t.runbookHash ?? null,
    t.awaitingRole ?? null,
    t.concurrency?.key ?? null,
    t.concurrency?.limit ?? null,
    o.notify ?? null,
  ], { name: 'rw_insert_task' });
  if (rows[0]) return { task: mapTaskRow(rows[0]), created: true };
  // The conflicting insert has committed (ON CONFLICT waits for it), so this statement sees it.
  // By external_ref only: getTask would prefer a task whose *id* equals this ref.
  const existing = t.externalRef ? await taskByExternalRef(db, t.externalRef) : undefined;
  if (!existing) throw new Error(`task ${t.id} was neither inserted nor found by externalRef ${String(t.externalRef)}`);
  return { task: existing, created: false };
}

/** The tasks with these externalRefs, by externalRef (one query, for a batch). */
export async function tasksByExternalRefs(db: Db, refs: string[]): Promise<Map<string, TaskRow>> {
  if (!refs.length) return new Map();
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM tasks WHERE external_ref = ANY($1::text[])', [refs], { name: 'rw_tasks_by_external_refs' });
  return new Map(rows.map((r) => [r.external_ref as string, mapTaskRow(r)]));
}

const INSERT_MANY_SQL = `
WITH d AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(
    ord int, id text, external_ref text, task_class text, runbook_id text, runbook_version int, runbook_hash text,
    requested_by text, input jsonb, priority int, state text, steps jsonb, retry_limit int, deadline_at timestamptz,
    rejection jsonb, ev_type text, ev_actor text, ev_data jsonb,
    awaiting_role text, concurrency_key text, concurrency_limit int)
), t AS (
  INSERT INTO tasks (id, external_ref, task_class, runbook_id, runbook_version, requested_by, input, priority, state,
                     steps, retry_limit, deadline_at, rejection, event_seq, created_at, updated_at, runbook_hash,
                     awaiting_role, concurrency_key, concurrency_limit)
  SELECT id, external_ref, task_class, runbook_id, runbook_version, requested_by, input, priority, state,
         steps, retry_limit, deadline_at, rejection, 1, $2, $2, runbook_hash,
         awaiting_role, concurrency_key, concurrency_limit FROM d ORDER BY ord
  ON CONFLICT (external_ref) DO NOTHING
  RETURNING id
), ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT d.id, 1, $2, d.ev_type, NULL, d.ev_actor, d.ev_data FROM d JOIN t ON t.id = d.id
)
SELECT id FROM t`;

/**
 * Inserts many decided tasks, each with its first ledger event, in ONE statement; a task whose
 * externalRef is taken meanwhile is skipped (ON CONFLICT), as insertTask does. Returns the ids
 * inserted. The externalRefs must be distinct within the call.
 */
export async function insertTasks(db: Db, tasks: NewTask[], now: Date): Promise<Set<string>> {
  if (!tasks.length) return new Set();
  const rows = tasks.map((t, ord) => ({
    ord,
    id: t.id,
    external_ref: t.externalRef,
    task_class: t.taskClass,
    runbook_id: t.runbookId,
    runbook_version: t.runbookVersion,
    runbook_hash: t.runbookHash ?? null,
    requested_by: t.requestedBy,
    input: t.input,
    priority: t.priority,
    state: t.state,
    steps: t.steps,
    retry_limit: t.retryLimit,
    deadline_at: t.deadlineAt?.toISOString() ?? null,
    rejection: t.rejection,
    ev_type: t.event.type,
    ev_actor: t.event.actor,
    ev_data: t.event.data,
    awaiting_role: t.awaitingRole ?? null,
    concurrency_key: t.concurrency?.key ?? null,
    concurrency_limit: t.concurrency?.limit ?? null,
  }));
  const out = await db.query<{ id: string }>(INSERT_MANY_SQL, [JSON.stringify(rows), now], { name: 'rw_insert_tasks' });
  return new Set(out.map((r) => r.id));
}

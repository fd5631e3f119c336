/**
 * Claiming work and holding it: the claim (`FOR UPDATE SKIP LOCKED` plus a lease), lease
 * renewal and release, and what `work --until-idle` waits for. Hand-written SQL: these run on
 * every tick of every worker.
 *
 * Two workers never run one task at once: the claim takes a row lock and sets a lease; every
 * checkpoint a worker writes is fenced by `lease_owner = $worker` (applyChange's `expect`), so a
 * worker whose lease expired and was taken over cannot write another checkpoint.
 */
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

/** States a worker picks up with no conditions but a free lease. */
const CLAIM_TO_RUNNING: TaskState[] = ['queued', 'retry_scheduled', 'waiting_callback'];

export interface ClaimedTask {
  task: TaskRow;
  /** The state before the claim (`running`/`compensating` when a dead worker's lease was taken over). */
  from: TaskState;
  takeover: boolean;
}

const CLAIM_SQL = `
WITH picked AS (
  SELECT id, state AS prev_state FROM tasks
  WHERE state = 'queued'
     OR (state IN ('retry_scheduled', 'waiting_callback') AND next_attempt_at <= $2)
     OR (state IN ('running', 'compensating') AND (lease_expires_at IS NULL OR lease_expires_at <= $2))
     -- An approval is due at the task's deadline: the decision hands it over (deadline_exceeded).
     OR (state = 'awaiting_approval' AND next_attempt_at <= $2 AND (lease_expires_at IS NULL OR lease_expires_at <= $2))
  ORDER BY priority DESC, created_at, id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE tasks t SET
    state = CASE WHEN t.state = ANY($5::text[]) THEN 'running' ELSE t.state END,
    lease_owner = $1,
    lease_expires_at = $3,
    -- What it was due at is spent: a finished task must not show a next try.
    next_attempt_at = CASE WHEN t.state = 'retry_scheduled' THEN NULL ELSE t.next_attempt_at END,
    updated_at = $2,
    event_seq = t.event_seq + CASE WHEN t.state = ANY($5::text[]) THEN 2 ELSE 1 END
  FROM picked WHERE t.id = picked.id
  RETURNING t.*, picked.prev_state
), ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT id, event_seq - CASE WHEN prev_state = ANY($5::text[]) THEN 1 ELSE 0 END, $2, 'lease.acquired', current_step, $6,
         jsonb_build_object('worker', $1::text, 'from', prev_state, 'takeover', prev_state IN ('running', 'compensating'), 'leaseExpiresAt', $3::timestamptz)
  FROM upd
  UNION ALL
  SELECT id, event_seq, $2, 'state.changed', current_step, $6, jsonb_build_object('from', prev_state, 'to', 'running')
  FROM upd WHERE prev_state = ANY($5::text[])
)
SELECT * FROM upd`;

/** Claims up to `limit` due tasks for `workerId`, each leased until `now + leaseMs`. */
export async function claimTasks(
  db: Db,
  opts: { workerId: string; now: Date; leaseMs: number; limit: number },
): Promise<ClaimedTask[]> {
  if (opts.limit <= 0) return [];
  const rows = await db.query<Record<string, unknown>>(
    CLAIM_SQL,
    [
      opts.workerId,
      opts.now,
      new Date(opts.now.getTime() + opts.leaseMs),
      opts.limit,
      CLAIM_TO_RUNNING,
      `worker:${opts.workerId}`,
    ],
    { name: 'rw_claim' },
  );
  return rows.map((r) => {
    const from = r.prev_state as TaskState;
    return { task: mapTaskRow(r), from, takeover: from === 'running' || from === 'compensating' };
  });
}

/**
 * Extends the lease while the worker still holds it. Returns null when it was lost, else whether
 * an operator asked for cancellation (the worker stops at the next safe point).
 */
export async function renewLease(
  db: Db,
  opts: { taskId: string; workerId: string; now: Date; leaseMs: number },
): Promise<{ cancelRequested: boolean } | null> {
  const rows = await db.query<{ cancel_requested: boolean }>(
    `UPDATE tasks SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2 RETURNING cancel_requested`,
    [opts.taskId, opts.workerId, new Date(opts.now.getTime() + opts.leaseMs)],
    { name: 'rw_renew_lease' },
  );
  const row = rows[0];
  return row ? { cancelRequested: row.cancel_requested } : null;
}

/** Attempts of these tasks that started and have no outcome (in doubt). */
export async function openAttempts(
  db: Db,
  taskId: string,
): Promise<{ step: string; kind: string; attempt: number; idempotencyKey: string | null; startedAt: Date }[]> {
  const rows = await db.query<{ step: string; kind: string; attempt: number; idempotency_key: string | null; started_at: Date | string }>(
    `SELECT step, kind, attempt, idempotency_key, started_at FROM attempts WHERE task_id = $1 AND finished_at IS NULL ORDER BY started_at`,
    [taskId],
    { name: 'rw_open_attempts' },
  );
  return rows.map((r) => ({
    step: r.step,
    kind: r.kind,
    attempt: r.attempt,
    idempotencyKey: r.idempotency_key,
    startedAt: new Date(r.started_at),
  }));
}

/** What still keeps `work --until-idle` going, and when the next retry falls due. */
export async function idleStatus(db: Db): Promise<{ busy: number; nextDueAt: Date | null }> {
  const rows = await db.query<{ busy: string | number; next_due: Date | string | null }>(
    `SELECT count(*) FILTER (WHERE state IN ('queued', 'running', 'compensating')) AS busy,
            min(next_attempt_at) FILTER (WHERE state = 'retry_scheduled') AS next_due
       FROM tasks WHERE state IN ('queued', 'running', 'compensating', 'retry_scheduled')`,
    [],
    { name: 'rw_idle_status' },
  );
  const r = rows[0];
  return { busy: Number(r?.busy ?? 0), nextDueAt: r?.next_due ? new Date(r.next_due) : null };
}

/**
 * A worker's checkpoint: the attempt rows (a start before the action runs; the outcome after it),
 * the task's new state, cursor and captures, and the ledger events, in one statement, fenced by
 * the worker's claim (worker id and lease epoch). It is applyChange's fixed-shape twin for the
 * worker's writes: the same transition table (`predecessorsOf`), the same fence, the same
 * ledger numbering and time stamping, the same refusals (`whyNot`).
 */
import { FINISHED_STATES, isOneOf, type AttemptKind, type AttemptOutcome, type FailureClass, type TaskState } from '../lifecycle/vocabulary.js';
import { CLAIM_WHEN_DUE, type Lease } from './claim.js';
import { duePayload, WAKE_CHANNEL } from './wake-channel.js';
import type { Db } from './db.js';
import type { NewEvent } from './events.js';
import { toDate } from './rows.js';
import { allowedFrom, applyChange, getTask, whyNot, type EscalationInfo, type TaskPatch, type TaskRow } from './tasks.js';

/** An attempt as its start is recorded (before the action runs). */
export interface AttemptRef {
  step: string;
  kind: AttemptKind;
  attempt: number;
  idempotencyKey: string | null;
}

/** An attempt's outcome, recorded after it. */
export interface AttemptFinish extends AttemptRef {
  outcome: AttemptOutcome;
  failureClass: FailureClass | null;
  error: string | null;
  durationMs: number;
  result: unknown;
}

/** One durable checkpoint: applied in one transaction with its ledger events (the worker adds the actor). */
export interface CheckpointWrite {
  to?: TaskState;
  patch: Pick<TaskPatch, 'currentStep' | 'steps' | 'cursor' | 'retryUsed' | 'nextAttemptAt' | 'callbackTokenHash' | 'escalation' | 'awaitingRole'>;
  events: Omit<NewEvent, 'actor'>[];
  startAttempt?: AttemptRef;
  finishAttempts?: AttemptFinish[];
  /** Set when this commit stops automation: the escalation hook writes the packet with it. */
  escalation?: EscalationInfo;
}

export interface CheckpointHooks {
  /**
   * Runs inside the checkpoint's transaction after the task changed, when the commit stops
   * automation or needs a person (escalation, approval, partial completion): the packet and its
   * outbox rows are written here, so they exist exactly when the state does.
   */
  onStop?(tx: Db, task: TaskRow, commit: CheckpointWrite, now: Date): Promise<void>;
  /**
   * Runs inside the checkpoint's transaction when the task reaches a terminal state (completed,
   * partially_completed, rolled_back, cancelled): open packets of the task are resolved here.
   */
  onFinish?(tx: Db, task: TaskRow, now: Date): Promise<void>;
}


/** The columns a checkpoint may set, by patch key, with how the statement reads them from `$7`. */
const CHECKPOINT_COLUMNS = {
  currentStep: "current_step = CASE WHEN $7::jsonb ? 'currentStep' THEN $7::jsonb->>'currentStep' ELSE x.current_step END",
  steps: "steps = CASE WHEN $7::jsonb ? 'steps' THEN $7::jsonb->'steps' ELSE x.steps END",
  cursor: "cursor = CASE WHEN $7::jsonb ? 'cursor' THEN $7::jsonb->'cursor' ELSE x.cursor END",
  retryUsed: "retry_used = CASE WHEN $7::jsonb ? 'retryUsed' THEN ($7::jsonb->>'retryUsed')::int ELSE x.retry_used END",
  nextAttemptAt: "next_attempt_at = CASE WHEN $7::jsonb ? 'nextAttemptAt' THEN ($7::jsonb->>'nextAttemptAt')::timestamptz ELSE x.next_attempt_at END",
  callbackTokenHash: "callback_token_hash = CASE WHEN $7::jsonb ? 'callbackTokenHash' THEN $7::jsonb->>'callbackTokenHash' ELSE x.callback_token_hash END",
  awaitingRole: "awaiting_role = CASE WHEN $7::jsonb ? 'awaitingRole' THEN $7::jsonb->>'awaitingRole' ELSE x.awaiting_role END",
  // JSON null is SQL NULL here: a cleared escalation is no escalation, as applyChange stores it.
  escalation: "escalation = CASE WHEN $7::jsonb ? 'escalation' THEN NULLIF($7::jsonb->'escalation', 'null'::jsonb) ELSE x.escalation END",
} as const satisfies Record<keyof CheckpointWrite['patch'], string>;

/**
 * The checkpoint as ONE statement of one shape, whatever it carries, so it is prepared once per
 * connection and costs one round trip: the task row is locked and fenced (worker id and epoch,
 * the transition table as `state = ANY($6)`), and only when that UPDATE matched do the attempt
 * outcomes ($10), the attempt start ($11) and the ledger events ($9) get written, each a CTE
 * reading from `t`. No row back: nothing was written, and `whyNot` says why.
 *
 * $1 task, $2 now, $3 worker, $4 epoch, $5 new state or NULL, $6 allowed states or NULL,
 * $7 patch (JSON, keys present = columns set), $8 release the lease, $9 events, $10 attempts
 * finished, $11 attempt started (JSON arrays), $12 write id or NULL, $13 event count, $14 the
 * wake-up to send (a task id, or `due:<ms>`) or NULL.
 * Returns only what the database decided (state, sequence, time) and what others may have
 * changed (cancel_requested, the lease): the caller has the rest.
 */
const CHECKPOINT_SQL = `
WITH o AS (SELECT id, state AS prev_state, GREATEST($2::timestamptz, updated_at) AS at FROM tasks WHERE id = $1 FOR UPDATE),
t AS (
  UPDATE tasks x SET ${Object.values(CHECKPOINT_COLUMNS).join(',\n    ')},
    state = COALESCE($5::text, x.state),
    lease_owner = CASE WHEN $8::boolean THEN NULL ELSE x.lease_owner END,
    lease_expires_at = CASE WHEN $8::boolean THEN NULL ELSE x.lease_expires_at END,
    last_write_id = COALESCE($12::text, x.last_write_id),
    event_seq = x.event_seq + $13::int,
    updated_at = o.at
  FROM o
  WHERE x.id = o.id AND x.lease_owner = $3 AND x.lease_epoch = $4::int AND ($6::text[] IS NULL OR x.state = ANY($6::text[]))
  RETURNING x.id, x.state, x.current_step, x.event_seq, x.updated_at, x.cancel_requested, x.lease_owner, x.lease_expires_at, o.prev_state
),
fin AS (
  UPDATE attempts a SET finished_at = $2, outcome = f.outcome, failure_class = f.failure_class, error = f.error, duration_ms = f.duration_ms, result = f.result
  FROM t, jsonb_to_recordset($10::jsonb) AS f(step text, kind text, attempt int, outcome text, failure_class text, error text, duration_ms int, result jsonb)
  WHERE a.task_id = t.id AND a.step = f.step AND a.kind = f.kind AND a.attempt = f.attempt
),
st AS (
  INSERT INTO attempts (task_id, step, kind, attempt, idempotency_key, started_at)
  SELECT t.id, s.step, s.kind, s.attempt, s.idempotency_key, $2 FROM t, jsonb_to_recordset($11::jsonb) AS s(step text, kind text, attempt int, idempotency_key text)
),
ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT t.id, t.event_seq - $13::int + e.ord, t.updated_at, e.type, COALESCE(e.step, t.current_step), e.actor,
         CASE WHEN e.type = 'state.changed' AND e.ord = $13::int THEN e.data || jsonb_build_object('from', t.prev_state) ELSE e.data END
  FROM t, jsonb_to_recordset($9::jsonb) AS e(ord int, type text, step text, actor text, data jsonb)
)
-- A task let go into the queue, or to wait until a time, is announced ($14) with the commit.
SELECT state, event_seq, updated_at, cancel_requested, lease_owner, lease_expires_at FROM t
 WHERE CASE WHEN $14::text IS NULL THEN true ELSE pg_notify('${WAKE_CHANNEL}', $14) IS NOT NULL END`;

/**
 * Writes one checkpoint under `lease`; LEASE_LOST (nothing written) when the claim no longer
 * holds the task. `writeId` is recorded with it for `writeLanded` (a retry after a lost answer).
 *
 * One statement, one round trip (CHECKPOINT_SQL), unless a hook must commit with it (a packet
 * when the task stops, resolved packets when it finishes): then that statement and the hook run
 * in one transaction. `task` is the row as the caller last had it: what is returned is it with
 * the checkpoint applied; without it the row is read back (one more statement).
 */
export async function writeCheckpoint(
  db: Db,
  opts: {
    taskId: string;
    lease: Lease;
    now: Date;
    commit: CheckpointWrite;
    /** The worker lets go of the task with this checkpoint. */
    release: boolean;
    hooks?: CheckpointHooks;
    writeId?: string;
    /** The task as the caller last wrote or read it. */
    task?: TaskRow;
  },
): Promise<TaskRow> {
  const { commit, now, hooks } = opts;
  const stops = Boolean(commit.escalation && hooks?.onStop);
  const finishes = Boolean(commit.to && isOneOf(FINISHED_STATES, commit.to) && hooks?.onFinish);
  if (!stops && !finishes) return checkpointStatement(db, opts);
  return db.transaction(async (tx) => {
    const task = await checkpointStatement(tx, opts);
    if (stops) await hooks!.onStop!(tx, task, commit, now);
    if (finishes) await hooks!.onFinish!(tx, task, now);
    return task;
  });
}

/** The parameters of CHECKPOINT_SQL for one checkpoint (see there). */
export function checkpointParams(opts: { taskId: string; lease: Lease; now: Date; commit: CheckpointWrite; release: boolean; writeId?: string }): unknown[] {
  const { commit, now } = opts;
  for (const key of Object.keys(commit.patch)) {
    // A misspelt key would otherwise be dropped silently and the checkpoint lose data.
    if (!(key in CHECKPOINT_COLUMNS)) throw new Error(`writeCheckpoint: ${key} is not a column a checkpoint may set`);
  }
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(commit.patch)) if (v !== undefined) patch[k] = v;
  // As applyChange: back in the queue, whoever claims it works out whose work is next.
  if (commit.to === 'queued' && patch.awaitingRole === undefined) patch.awaitingRole = null;
  const actor = `worker:${opts.lease.workerId}`;
  const events = commit.events.map((e, i) => ({ ord: i + 1, type: e.type, step: e.step ?? null, actor, data: e.data ?? {} }));
  if (commit.to) events.push({ ord: events.length + 1, type: 'state.changed', step: commit.patch.currentStep ?? null, actor, data: { to: commit.to } });
  const allowed = allowedFrom(commit.to ? { to: commit.to } : {});
  const finished = (commit.finishAttempts ?? []).map((f) => ({
    step: f.step,
    kind: f.kind,
    attempt: f.attempt,
    outcome: f.outcome,
    failure_class: f.failureClass,
    error: f.error,
    duration_ms: Math.round(f.durationMs),
    result: f.result ?? null,
  }));
  const a = commit.startAttempt;
  const started = a ? [{ step: a.step, kind: a.kind, attempt: a.attempt, idempotency_key: a.idempotencyKey }] : [];
  return [
    opts.taskId,
    now,
    opts.lease.workerId,
    opts.lease.epoch,
    commit.to ?? null,
    allowed ?? null,
    JSON.stringify(patch),
    opts.release,
    JSON.stringify(events),
    JSON.stringify(finished),
    JSON.stringify(started),
    opts.writeId ?? null,
    events.length,
    wakeUp(opts.taskId, commit, opts.release),
  ];
}

/**
 * What a released task announces: back in the queue, its id (a worker claims it now); waiting
 * until a time, that time (idle workers sleep until then at most, not a poll interval).
 */
function wakeUp(taskId: string, commit: CheckpointWrite, release: boolean): string | null {
  if (!release || !commit.to) return null;
  if (commit.to === 'queued') return taskId;
  const at = commit.patch.nextAttemptAt;
  if ((CLAIM_WHEN_DUE as readonly string[]).includes(commit.to) && at) return duePayload(new Date(at));
  return null;
}

/** What CHECKPOINT_SQL returns. */
interface CheckpointResult {
  state: TaskState;
  event_seq: number;
  updated_at: Date;
  cancel_requested: boolean;
  lease_owner: string | null;
  lease_expires_at: Date | null;
}

async function checkpointStatement(
  db: Db,
  opts: { taskId: string; lease: Lease; now: Date; commit: CheckpointWrite; release: boolean; writeId?: string; task?: TaskRow },
): Promise<TaskRow> {
  const rows = await db.query<CheckpointResult>(CHECKPOINT_SQL, checkpointParams(opts), { name: 'rw_checkpoint' });
  return checkpointApplied(db, opts, rows[0]);
}

/** The task after the checkpoint: the caller's row with the checkpoint and what the database returned; or why nothing was written. */
async function checkpointApplied(db: Db, opts: { taskId: string; lease: Lease; now: Date; commit: CheckpointWrite; task?: TaskRow }, row: CheckpointResult | undefined): Promise<TaskRow> {
  const { commit, now } = opts;
  if (!row) throw await whyNot(db, { taskId: opts.taskId, now, ...(commit.to ? { to: commit.to } : {}), expect: { leaseOwner: opts.lease.workerId, leaseEpoch: opts.lease.epoch } });
  const base = opts.task ?? (await getTask(db, opts.taskId));
  if (!base) throw new Error(`task ${opts.taskId} was written and then not found`);
  const p = commit.patch;
  return {
    ...base,
    ...(p.currentStep !== undefined ? { currentStep: p.currentStep } : {}),
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(p.cursor !== undefined ? { cursor: p.cursor } : {}),
    ...(p.retryUsed !== undefined ? { retryUsed: p.retryUsed } : {}),
    ...(p.callbackTokenHash !== undefined ? { callbackTokenHash: p.callbackTokenHash } : {}),
    ...(p.awaitingRole !== undefined ? { awaitingRole: p.awaitingRole } : commit.to === 'queued' ? { awaitingRole: null } : {}),
    // As stored: JSON and back, so a caller sees what a read would give.
    ...(p.escalation !== undefined ? { escalation: p.escalation ?? null } : {}),
    ...(p.nextAttemptAt !== undefined ? { nextAttemptAt: p.nextAttemptAt ? new Date(p.nextAttemptAt) : null } : {}),
    state: row.state,
    eventSeq: Number(row.event_seq),
    updatedAt: toDate(row.updated_at)!,
    cancelRequested: Boolean(row.cancel_requested),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: toDate(row.lease_expires_at),
  };
}

/**
 * Lets go of a task without a decision (the worker is stopping): a running task goes back to
 * `queued` for another worker; a compensating one keeps its state with no lease.
 */
export async function releaseTask(db: Db, opts: { task: TaskRow; lease: Lease; now: Date; why: string; writeId?: string }): Promise<TaskRow> {
  const running = opts.task.state === 'running';
  const released = await applyChange(db, {
    taskId: opts.task.id,
    now: opts.now,
    ...(running ? { to: 'queued' as const } : {}),
    expect: { leaseOwner: opts.lease.workerId, leaseEpoch: opts.lease.epoch },
    patch: { leaseOwner: null, leaseExpiresAt: null },
    events: [{ type: 'lease.released', step: opts.task.currentStep, actor: `worker:${opts.lease.workerId}`, data: { why: opts.why } }],
    ...(opts.writeId ? { writeId: opts.writeId } : {}),
  });
  // Handed back (the worker is stopping): another worker, asleep on its listener, takes it now.
  // A lost notification costs only time: the task is queued, and found at the next look.
  await db.notify(WAKE_CHANNEL, released.id).catch(() => undefined);
  return released;
}

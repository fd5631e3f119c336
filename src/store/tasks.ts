/**
 * Tasks and their ledger: the row type, reads, and `applyChange`, the ONE function that changes
 * a task. It applies the transition table in SQL (`state = ANY(allowed)`), fences on the
 * worker's lease when asked, and appends the ledger events with consecutive sequence numbers,
 * all in one statement: a change is never applied without its events, nor its events without it.
 */
import { RunwardenError } from '../errors.js';
import { canTransition, predecessorsOf, TRANSITIONS } from '../lifecycle/transitions.js';
import { TASK_STATES, type WorkRole, type AttemptKind, type AttemptOutcome, type EscalationReason, type FailureClass, type StepStatus, type TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import type { NewEvent } from './events.js';
import { toDate, toNumberOrNull } from './rows.js';

export { listEvents, type EventRow, type NewEvent } from './events.js';

/** A step's durable record inside `tasks.steps` (the `steps.<id>` CEL context: captures plus status). */
export interface StepRecord {
  status: StepStatus;
  attempts: number;
  captures: Record<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
  note?: string;
}

/** Why automation stopped a task (`tasks.escalation`; the packet's `reason`). */
export interface EscalationInfo {
  kind: EscalationReason;
  failureClass: FailureClass | null;
  step: string | null;
  message: string;
  /** ISO timestamp of the decision that stopped the task. */
  at: string;
}

/** A task as stored (lifecycle.md). `rejection` is intake's `{ kind, problems }` for a `rejected` task. */
export interface TaskRow {
  id: string;
  externalRef: string | null;
  taskClass: string;
  runbookId: string | null;
  runbookVersion: number | null;
  /** The content hash of the runbook version the task runs on (`runbook_versions`); null before pinning existed. */
  runbookHash: string | null;
  requestedBy: string | null;
  input: Record<string, unknown>;
  priority: number;
  state: TaskState;
  currentStep: string | null;
  steps: Record<string, StepRecord>;
  cursor: Record<string, unknown>;
  retryUsed: number;
  retryLimit: number;
  deadlineAt: Date | null;
  nextAttemptAt: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** The fencing token of the current claim (bumped by every claim). */
  leaseEpoch: number;
  callbackTokenHash: string | null;
  cancelRequested: boolean;
  rejection: unknown;
  escalation: EscalationInfo | null;
  /** The role whose work comes next; null: any worker may claim it (and hands it on). */
  awaitingRole: WorkRole | null;
  /** `policy.concurrency.key` evaluated at intake, with its limit; null without a key. */
  concurrencyKey: string | null;
  concurrencyLimit: number | null;
  eventSeq: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One attempt of an action, probe, verification, compensation or refresh (table `attempts`). */
export interface AttemptRow {
  step: string;
  kind: AttemptKind;
  attempt: number;
  idempotencyKey: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: AttemptOutcome | null;
  failureClass: FailureClass | null;
  error: string | null;
  durationMs: number | null;
  result: unknown;
}

/** The columns a change may set. */
export type TaskPatch = Partial<
  Pick<
    TaskRow,
    | 'currentStep'
    | 'steps'
    | 'cursor'
    | 'retryUsed'
    | 'retryLimit'
    | 'deadlineAt'
    | 'nextAttemptAt'
    | 'leaseOwner'
    | 'leaseExpiresAt'
    | 'callbackTokenHash'
    | 'cancelRequested'
    | 'escalation'
    | 'priority'
    | 'runbookVersion'
    | 'runbookHash'
    | 'awaitingRole'
  >
>;

const COLUMNS: Record<keyof TaskPatch, { column: string; json?: true }> = {
  currentStep: { column: 'current_step' },
  steps: { column: 'steps', json: true },
  cursor: { column: 'cursor', json: true },
  retryUsed: { column: 'retry_used' },
  retryLimit: { column: 'retry_limit' },
  deadlineAt: { column: 'deadline_at' },
  nextAttemptAt: { column: 'next_attempt_at' },
  leaseOwner: { column: 'lease_owner' },
  leaseExpiresAt: { column: 'lease_expires_at' },
  callbackTokenHash: { column: 'callback_token_hash' },
  cancelRequested: { column: 'cancel_requested' },
  escalation: { column: 'escalation', json: true },
  priority: { column: 'priority' },
  runbookVersion: { column: 'runbook_version' },
  runbookHash: { column: 'runbook_hash' },
  awaitingRole: { column: 'awaiting_role' },
};

/** A `tasks` row (snake_case, as the drivers return it) to a TaskRow. */
export function mapTaskRow(r: Record<string, unknown>): TaskRow {
  return {
    id: r.id as string,
    externalRef: (r.external_ref as string | null) ?? null,
    taskClass: r.task_class as string,
    runbookId: (r.runbook_id as string | null) ?? null,
    runbookVersion: (r.runbook_version as number | null) ?? null,
    runbookHash: (r.runbook_hash as string | null) ?? null,
    requestedBy: (r.requested_by as string | null) ?? null,
    input: (r.input as Record<string, unknown>) ?? {},
    priority: Number(r.priority ?? 0),
    state: r.state as TaskState,
    currentStep: (r.current_step as string | null) ?? null,
    steps: (r.steps as Record<string, StepRecord>) ?? {},
    cursor: (r.cursor as Record<string, unknown>) ?? {},
    retryUsed: Number(r.retry_used ?? 0),
    retryLimit: Number(r.retry_limit ?? 0),
    deadlineAt: toDate(r.deadline_at),
    nextAttemptAt: toDate(r.next_attempt_at),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: toDate(r.lease_expires_at),
    leaseEpoch: Number(r.lease_epoch ?? 0),
    callbackTokenHash: (r.callback_token_hash as string | null) ?? null,
    cancelRequested: Boolean(r.cancel_requested),
    rejection: r.rejection ?? null,
    escalation: (r.escalation as EscalationInfo | null) ?? null,
    awaitingRole: (r.awaiting_role as WorkRole | null) ?? null,
    concurrencyKey: (r.concurrency_key as string | null) ?? null,
    concurrencyLimit: toNumberOrNull(r.concurrency_limit),
    eventSeq: Number(r.event_seq ?? 0),
    createdAt: toDate(r.created_at)!,
    updatedAt: toDate(r.updated_at)!,
  };
}

/** What `applyChange` applies: a state move and/or a patch, with the ledger events that explain it. */
export interface Change {
  taskId: string;
  now: Date;
  /** The new state; checked against the transition table. Omitted: the state stays. */
  to?: TaskState;
  expect?: {
    /** The caller's view of the current state: applied only from these. */
    states?: TaskState[];
    /** Applied only while this worker holds the lease. */
    leaseOwner?: string;
    /** ... and only under this claim (the fencing token the claim returned), with `leaseOwner`. */
    leaseEpoch?: number;
    /**
     * Applied only while the ledger is at this sequence number: the version of the task the
     * caller read. Every write that is not a worker's (operator actions, callbacks) gives it, so
     * a change decided on a read another writer has since overtaken is refused (TASK_CHANGED).
     */
    eventSeq?: number;
    /** Applied only while some worker holds an unexpired lease (`held`) or none does (`free`), at `now`. */
    lease?: 'held' | 'free';
  };
  patch?: TaskPatch;
  events: NewEvent[];
  /**
   * Recorded as the task's `last_write_id`: a caller that retries a write after a connection
   * error asks `writeLanded` first, since a commit whose answer was lost may have happened.
   */
  writeId?: string;
}

/**
 * Applies a change to one task with its ledger events, in ONE statement: the state moves only
 * along the transition table (`state = ANY(predecessorsOf(to) ∩ expect.states)`), only while
 * `expect.leaseOwner` holds the lease when given, `event_seq` grows by the number of events and
 * the events take the consecutive numbers. With `to`, a `state.changed` event `{ from, to }`
 * comes last, after what caused it, so the ledger reads as a timeline. Nothing is applied when the row does not match: the reason is thrown as
 * TASK_NOT_FOUND, LEASE_LOST (details: owner) or ILLEGAL_TRANSITION.
 *
 * Time is the caller's clock (`now`), but never earlier than the task's last change: the events
 * are stamped `GREATEST(now, updated_at)`, so a ledger reads forward in time even when the
 * processes writing it disagree about the time (every event writer sets `updated_at` to the
 * time it stamps).
 */
export async function applyChange(db: Db, change: Change): Promise<TaskRow> {
  const params: unknown[] = [change.taskId, change.now];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const sets: string[] = [];
  for (const [key, value] of Object.entries(change.patch ?? {})) {
    const col = COLUMNS[key as keyof TaskPatch];
    // A misspelt key would otherwise be dropped silently and the checkpoint lose data.
    if (!col) throw new Error(`applyChange: ${key} is not a column a change may set`);
    if (value === undefined) continue;
    sets.push(col.json ? `${col.column} = ${p(value === null ? null : JSON.stringify(value))}::jsonb` : `${col.column} = ${p(value)}`);
  }
  const events: NewEvent[] = change.to
    ? [...change.events, { type: 'state.changed', step: change.patch?.currentStep ?? null, actor: change.events[0]?.actor ?? 'runwarden', data: { to: change.to } }]
    : change.events;
  if (change.to) sets.push(`state = ${p(change.to)}`);
  // Back in the queue by a person or a callback: whoever claims it works out whose work is next.
  if (change.to === 'queued' && change.patch?.awaitingRole === undefined) sets.push('awaiting_role = NULL');
  if (change.writeId !== undefined) sets.push(`last_write_id = ${p(change.writeId)}`);
  const where: string[] = [];
  const allowed = allowedFrom(change);
  if (allowed) where.push(`x.state = ANY(${p(allowed)}::text[])`);
  if (change.expect?.leaseOwner !== undefined) where.push(`x.lease_owner = ${p(change.expect.leaseOwner)}`);
  if (change.expect?.leaseEpoch !== undefined) where.push(`x.lease_epoch = ${p(change.expect.leaseEpoch)}::int`);
  if (change.expect?.eventSeq !== undefined) where.push(`x.event_seq = ${p(change.expect.eventSeq)}::int`);
  // The lease is judged here, at the caller's clock ($2), not on an earlier read: a renewal
  // moves lease_expires_at without a ledger event, so a read can be overtaken silently.
  if (change.expect?.lease === 'held') where.push(`(x.lease_owner IS NOT NULL AND x.lease_expires_at > $2)`);
  if (change.expect?.lease === 'free') where.push(`(x.lease_owner IS NULL OR x.lease_expires_at IS NULL OR x.lease_expires_at <= $2)`);
  const n = p(events.length);
  const evs = p(JSON.stringify(events.map((e, i) => ({ ord: i + 1, type: e.type, step: e.step ?? null, actor: e.actor, data: e.data ?? {} }))));
  // `o` locks the row and keeps the state it had, for the `from` of state.changed.
  const sql = `
WITH o AS (SELECT id, state AS prev_state, GREATEST($2::timestamptz, updated_at) AS at FROM tasks WHERE id = $1 FOR UPDATE),
t AS (
  UPDATE tasks x SET ${[...sets, `event_seq = x.event_seq + ${n}::int`, 'updated_at = o.at'].join(', ')}
  FROM o WHERE x.id = o.id${where.length ? ` AND ${where.join(' AND ')}` : ''}
  RETURNING x.*, o.prev_state
),
ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT t.id, t.event_seq - ${n}::int + e.ord, t.updated_at, e.type, COALESCE(e.step, t.current_step), e.actor,
         CASE WHEN e.type = 'state.changed' AND e.ord = ${n}::int THEN e.data || jsonb_build_object('from', t.prev_state) ELSE e.data END
  FROM t, jsonb_to_recordset(${evs}::jsonb) AS e(ord int, type text, step text, actor text, data jsonb)
)
SELECT * FROM t`;
  const rows = await db.query<Record<string, unknown>>(sql, params);
  const row = rows[0];
  if (row) return mapTaskRow(row);
  throw await whyNot(db, change);
}

/** The states the change may start from, or undefined for any. */
export function allowedFrom(change: Pick<Change, 'to' | 'expect'>): TaskState[] | undefined {
  let allowed: TaskState[] | undefined = change.to ? predecessorsOf(change.to) : undefined;
  const expected = change.expect?.states;
  if (expected) allowed = (allowed ?? [...TASK_STATES]).filter((s) => expected.includes(s));
  return allowed;
}

/** Why a change matched no row, read afterwards: TASK_NOT_FOUND, TASK_CHANGED, LEASE_LOST or ILLEGAL_TRANSITION. */
export async function whyNot(db: Db, change: Pick<Change, 'taskId' | 'now' | 'to' | 'expect'>): Promise<RunwardenError> {
  const rows = await db.query<{ state: TaskState; lease_owner: string | null; lease_epoch: number; event_seq: number; held: boolean }>(
    'SELECT state, lease_owner, lease_epoch, event_seq, (lease_owner IS NOT NULL AND lease_expires_at > $2) AS held FROM tasks WHERE id = $1',
    [change.taskId, change.now],
  );
  const cur = rows[0];
  if (!cur) return new RunwardenError('TASK_NOT_FOUND', `no task ${change.taskId}`, { details: { taskId: change.taskId } });
  const seen = change.expect?.eventSeq;
  if (seen !== undefined && Number(cur.event_seq) !== seen) {
    return new RunwardenError('TASK_CHANGED', `task ${change.taskId} changed while you acted (its ledger moved from event ${seen} to ${cur.event_seq}, now ${cur.state}); read it again and decide again`, {
      details: { taskId: change.taskId, read: seen, now: Number(cur.event_seq), state: cur.state },
    });
  }
  const lease = change.expect?.lease;
  if (lease !== undefined && (lease === 'held') !== Boolean(cur.held)) {
    return new RunwardenError('TASK_CHANGED', `task ${change.taskId} is ${cur.held ? 'held by a worker' : 'held by no worker'} now, not ${lease === 'held' ? 'held' : 'free'} as this change expected; read it again`, {
      details: { taskId: change.taskId, lease: cur.held ? 'held' : 'free', expected: lease },
    });
  }
  const owner = change.expect?.leaseOwner;
  const epoch = change.expect?.leaseEpoch;
  if ((owner !== undefined && cur.lease_owner !== owner) || (epoch !== undefined && Number(cur.lease_epoch) !== epoch)) {
    const held = cur.lease_owner === owner ? `a later claim (epoch ${cur.lease_epoch}) of ${owner}` : (cur.lease_owner ?? 'no worker');
    return new RunwardenError('LEASE_LOST', `task ${change.taskId} is held by ${held}, not ${owner}${epoch !== undefined ? ` under epoch ${epoch}` : ''}; nothing was written`, {
      details: { owner: cur.lease_owner, expected: owner ?? null, epoch: Number(cur.lease_epoch), expectedEpoch: epoch ?? null },
    });
  }
  const next = nextStates(cur.state);
  const fromHere = `from ${cur.state} it may go to ${next.join(', ') || 'nothing (it is final)'}`;
  const details = { taskId: change.taskId, from: cur.state, to: change.to ?? null, allowed: next, expected: change.expect?.states ?? null };
  if (change.to && !canTransition(cur.state, change.to)) {
    return new RunwardenError('ILLEGAL_TRANSITION', `task ${change.taskId} cannot go from ${cur.state} to ${change.to}; ${fromHere}`, { details });
  }
  const expected = change.expect?.states;
  if (expected && !expected.includes(cur.state)) {
    return new RunwardenError(
      'ILLEGAL_TRANSITION',
      `task ${change.taskId} is ${cur.state}, not ${expected.join(' or ')} as this change expected${change.to ? ` to go to ${change.to}` : ''}; ${fromHere}`,
      { details },
    );
  }
  // The row matched when read again: another writer changed it between the two statements.
  return new RunwardenError('ILLEGAL_TRANSITION', `task ${change.taskId} changed while this change was applied (now ${cur.state}); read it again`, { details });
}

/** Where the table lets a task go from `from`, in the table's order. */
function nextStates(from: TaskState): TaskState[] {
  return [...(TRANSITIONS[from] as readonly TaskState[])];
}

/**
 * Whether the write `writeId` was applied to the task (it is the task's last worker write). For
 * a retry after a connection error: the lost answer may have been a commit.
 */
export async function writeLanded(db: Db, taskId: string, writeId: string): Promise<boolean> {
  const rows = await db.query<{ last_write_id: string | null }>('SELECT last_write_id FROM tasks WHERE id = $1', [taskId], { name: 'rw_write_landed' });
  return rows[0]?.last_write_id === writeId;
}

/** A task by id or by externalRef. */
export async function getTask(db: Db, ref: string): Promise<TaskRow | undefined> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM tasks WHERE id = $1 OR external_ref = $1 ORDER BY (id = $1) DESC LIMIT 1', [ref], { name: 'rw_get_task' });
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

/**
 * Tasks newest first (ties by id, descending), filtered by state and runbook id. Default limit
 * 50. Served by tasks_created_idx / tasks_state_created_idx read backwards: no sort, no scan.
 */
export async function listTasks(db: Db, f: { state?: TaskState; runbook?: string; limit?: number } = {}): Promise<TaskRow[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (f.state) {
    params.push(f.state);
    where.push(`state = $${params.length}`);
  }
  if (f.runbook) {
    params.push(f.runbook);
    where.push(`runbook_id = $${params.length}`);
  }
  params.push(f.limit ?? 50);
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(mapTaskRow);
}

/** A task's attempts in the order they started. */
export async function listAttempts(db: Db, taskId: string): Promise<AttemptRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    'SELECT * FROM attempts WHERE task_id = $1 ORDER BY started_at, step, kind, attempt',
    [taskId],
    { name: 'rw_list_attempts' },
  );
  return rows.map((r) => ({
    step: r.step as string,
    kind: r.kind as AttemptKind,
    attempt: Number(r.attempt),
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    startedAt: toDate(r.started_at)!,
    finishedAt: toDate(r.finished_at),
    outcome: (r.outcome as AttemptOutcome | null) ?? null,
    failureClass: (r.failure_class as FailureClass | null) ?? null,
    error: (r.error as string | null) ?? null,
    durationMs: toNumberOrNull(r.duration_ms),
    result: r.result ?? null,
  }));
}

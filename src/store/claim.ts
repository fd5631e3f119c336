/**
 * Claiming work and holding it: the claim (`FOR UPDATE SKIP LOCKED` plus a lease), lease
 * renewal and release, and what `work --until-idle` waits for. Hand-written SQL: these run on
 * every tick of every worker.
 *
 * Two workers never run one task at once: the claim takes a row lock, sets a lease and bumps the
 * task's `lease_epoch`, the fencing token of that claim. Every write a worker makes for the task
 * (checkpoints, renewals, releases, escalations) is fenced by its worker id AND that epoch, so a
 * worker whose lease expired cannot write again once the task was claimed anew, not even when
 * the new claim is its own. A worker never claims a task it is still driving (`exclude`).
 */
import { WORK_ROLES, type TaskState, type WorkRole } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { WAKE_CHANNEL } from './wake-channel.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

/** One claim of one task: the worker and the fencing token (`lease_epoch`) the claim set. */
export interface Lease {
  workerId: string;
  epoch: number;
}

/** The lease a claimed row carries. */
export function leaseOf(task: TaskRow): Lease {
  if (!task.leaseOwner) throw new Error(`task ${task.id} is not leased`);
  return { workerId: task.leaseOwner, epoch: task.leaseEpoch };
}

/**
 * States a claim moves to `running`. `queued` is due at once; the others only when their
 * `next_attempt_at` has come (CLAIM_WHEN_DUE).
 */
const CLAIM_TO_RUNNING: TaskState[] = ['queued', 'retry_scheduled', 'waiting_callback'];

/**
 * The timed states: claimed once `next_attempt_at <= now` (a retry that fell due, a wait that
 * timed out). The one place to add a state that wakes at a time (for instance one whose
 * `next_attempt_at` is the task's deadline); add it to CLAIM_TO_RUNNING too when the claim should
 * move it to `running`.
 */
export const CLAIM_WHEN_DUE: TaskState[] = ['retry_scheduled', 'waiting_callback'];

/**
 * States a person answers that still wake at a time (`next_attempt_at`: the task's deadline). The
 * claim leaves their state as it is; the decision escalates them as `deadline_exceeded`.
 */
export const CLAIM_AT_DEADLINE: TaskState[] = ['awaiting_approval'];

/** States whose lease, once expired, another worker takes over (a dead worker's tasks). */
export const CLAIM_ON_EXPIRY: TaskState[] = ['running', 'compensating'];

export interface ClaimedTask {
  task: TaskRow;
  /** The state before the claim (`running`/`compensating` when a dead worker's lease was taken over). */
  from: TaskState;
  takeover: boolean;
}

/**
 * States that hold a slot of their task's concurrency key (`policy.concurrency`): a `queued` task
 * with a key is claimed only while fewer than its limit of tasks with that key are in one of
 * them. A task between roles is `running` without a lease, so it keeps its slot.
 */
export const CONCURRENCY_HOLDING: TaskState[] = ['running', 'retry_scheduled', 'compensating', 'waiting_callback'];

// The events are stamped no earlier than the task's last change (see applyChange).
// `pick` is the WHERE of the rows to claim; $11 is the roles the worker serves, $12 (keyed claim
// only) the ids admitted under their concurrency keys.
const claimSql = (pick: string) => `
WITH picked AS (
  SELECT id, state AS prev_state, lease_owner AS prev_owner, GREATEST($2::timestamptz, updated_at) AS at FROM tasks
  WHERE ${pick}
    AND id <> ALL($7::text[])
    AND (awaiting_role IS NULL OR awaiting_role = ANY($11::text[]))
  -- NULLS LAST as in tasks_claim_idx, so the index order is the claim order.
  ORDER BY priority DESC NULLS LAST, created_at, id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE tasks t SET
    state = CASE WHEN t.state = ANY($5::text[]) THEN 'running' ELSE t.state END,
    lease_owner = $1,
    lease_expires_at = $3,
    lease_epoch = t.lease_epoch + 1,
    -- What it was due at is spent: a finished task must not show a next try.
    next_attempt_at = CASE WHEN t.state = 'retry_scheduled' THEN NULL ELSE t.next_attempt_at END,
    updated_at = picked.at,
    event_seq = t.event_seq + CASE WHEN t.state = ANY($5::text[]) THEN 2 ELSE 1 END
  FROM picked WHERE t.id = picked.id
  RETURNING t.*, picked.prev_state, picked.prev_owner
), ev AS (
  INSERT INTO events (task_id, seq, at, type, step, actor, data)
  SELECT id, event_seq - CASE WHEN prev_state = ANY($5::text[]) THEN 1 ELSE 0 END, updated_at, 'lease.acquired', current_step, $6,
         jsonb_build_object('worker', $1::text, 'from', prev_state, 'takeover', prev_state = ANY($9::text[]) AND prev_owner IS NOT NULL, 'leaseExpiresAt', $3::timestamptz, 'epoch', lease_epoch)
         || CASE WHEN awaiting_role IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('role', awaiting_role) END
  FROM upd
  UNION ALL
  SELECT id, event_seq, updated_at, 'state.changed', current_step, $6, jsonb_build_object('from', prev_state, 'to', 'running')
  FROM upd WHERE prev_state = ANY($5::text[])
)
-- The leases taken lapse at $3 if this worker dies: workers sleeping on their listener learn when
-- to look (one notification per claim: identical payloads of a transaction are sent once).
SELECT * FROM upd WHERE pg_notify('${WAKE_CHANNEL}', 'due:' || (extract(epoch FROM $3::timestamptz) * 1000)::bigint::text) IS NOT NULL`;

/** The states as SQL literals: fixed code constants, written into the text (see CLAIM_SQL). */
const literals = (states: readonly TaskState[]): string => states.map((x) => `'${x}'`).join(', ');

/**
 * Everything due except a queued task with a concurrency key: that one is admitted apart
 * (claimKeyed). The states are literals, not parameters, so even the generic plan of the
 * prepared statement is provably inside the partial index `tasks_claim_idx` (the same
 * disjunction, see schema.ts): the claim walks the index of live tasks in claim order and stops
 * at `LIMIT`, whatever the backlog and however many finished tasks the table holds. $8 and $10
 * stay typed (unused) so every claim statement takes the same parameters.
 */
const CLAIM_SQL = claimSql(`((state = 'queued' AND concurrency_key IS NULL)
     OR (state IN (${literals(CLAIM_WHEN_DUE)}) AND next_attempt_at <= $2)
     -- A dead worker's task, or one handed on between roles (running, no lease).
     OR (state IN (${literals(CLAIM_ON_EXPIRY)}) AND (lease_expires_at IS NULL OR lease_expires_at <= $2))
     -- A state a person answers, due at the task's deadline: the decision hands it over
     -- (deadline_exceeded). The state stays, so the lease keeps a second claimer off it.
     OR (state IN (${literals(CLAIM_AT_DEADLINE)}) AND next_attempt_at <= $2 AND (lease_expires_at IS NULL OR lease_expires_at <= $2)))
    AND cardinality($8::text[]) >= 0 AND cardinality($10::text[]) >= 0 AND cardinality($9::text[]) >= 0`);

// $8 and $10 are the main claim's; typed here so both statements take the same parameters.
const CLAIM_KEYED_SQL = claimSql(`state = 'queued' AND id = ANY($12::text[]) AND cardinality($8::text[]) >= 0 AND cardinality($10::text[]) >= 0`);

/**
 * Queued tasks with a concurrency key, at most their limit per key, in claim order: the
 * candidates for admission (no lock taken; the claim itself checks again).
 */
const KEYED_CANDIDATES_SQL = `
SELECT id, concurrency_key AS key, concurrency_limit AS lim FROM (
  SELECT id, concurrency_key, concurrency_limit, priority, created_at,
         row_number() OVER (PARTITION BY concurrency_key ORDER BY priority DESC NULLS LAST, created_at, id) AS rn
    FROM tasks
   WHERE state = 'queued' AND concurrency_key IS NOT NULL
     AND id <> ALL($1::text[])
     AND (awaiting_role IS NULL OR awaiting_role = ANY($2::text[]))
) c WHERE rn <= COALESCE(concurrency_limit, 1)
ORDER BY priority DESC, created_at, id
LIMIT $3`;

// Sorted, so two claimers locking overlapping keys take them in one order (no deadlock). The
// transaction-scoped lock is held to COMMIT, so the next claimer's count sees this claim.
const LOCK_KEYS_SQL = `SELECT count(pg_advisory_xact_lock(hashtext(k))) AS n FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) s`;

const KEY_COUNTS_SQL = `SELECT concurrency_key AS key, count(*)::int AS n FROM tasks WHERE concurrency_key = ANY($1::text[]) AND state = ANY($2::text[]) GROUP BY concurrency_key`;

export interface ClaimOptions {
  workerId: string;
  now: Date;
  leaseMs: number;
  limit: number;
  exclude?: readonly string[];
  /** The roles the worker serves: only tasks waiting for one of them (or for none) are claimed. Default: every role. */
  roles?: readonly WorkRole[];
}

function claimParams(opts: ClaimOptions, limit: number): unknown[] {
  return [
    opts.workerId,
    opts.now,
    new Date(opts.now.getTime() + opts.leaseMs),
    limit,
    CLAIM_TO_RUNNING,
    `worker:${opts.workerId}`,
    [...(opts.exclude ?? [])],
    CLAIM_WHEN_DUE,
    CLAIM_ON_EXPIRY,
    CLAIM_AT_DEADLINE,
    [...(opts.roles ?? WORK_ROLES)],
  ];
}

function toClaimed(rows: Record<string, unknown>[]): ClaimedTask[] {
  return rows.map((r) => {
    const from = r.prev_state as TaskState;
    return { task: mapTaskRow(r), from, takeover: CLAIM_ON_EXPIRY.includes(from) && r.prev_owner != null };
  });
}

/**
 * Claims up to `limit` due tasks for `workerId`, each leased until `now + leaseMs` under a new
 * epoch. `exclude`: the ids the worker is driving right now, never claimed again by it (their
 * lease may have lapsed while its renewals failed; a second driver would run the step twice).
 * Only tasks whose next work is one of `roles` are claimed; a queued task with a concurrency key
 * only while its key has a free slot (claimKeyed).
 */
export async function claimTasks(db: Db, opts: ClaimOptions): Promise<ClaimedTask[]> {
  if (opts.limit <= 0) return [];
  const rows = await db.query<Record<string, unknown>>(CLAIM_SQL, claimParams(opts, opts.limit), { name: 'rw_claim' });
  const claimed = toClaimed(rows);
  const left = opts.limit - claimed.length;
  if (left > 0) claimed.push(...(await claimKeyed(db, opts, left)));
  return claimed;
}

/**
 * Admits queued tasks with a concurrency key, at most `limit`: in one transaction, an advisory
 * lock per key (so claimers on every connection, process and backend take turns per key), then
 * a count of the tasks holding a slot (read after the lock, so it sees every earlier claim
 * committed), then the claim of those that fit. Without the lock two workers could both count
 * one free slot and both take it.
 */
export async function claimKeyed(db: Db, opts: ClaimOptions, limit: number): Promise<ClaimedTask[]> {
  const roles = [...(opts.roles ?? WORK_ROLES)];
  const candidates = await db.query<{ id: string; key: string; lim: number | null }>(
    KEYED_CANDIDATES_SQL,
    [[...(opts.exclude ?? [])], roles, Math.max(limit * 4, 16)],
    { name: 'rw_claim_keyed_candidates' },
  );
  if (!candidates.length) return [];
  const keys = [...new Set(candidates.map((c) => c.key))].sort();
  return db.transaction(async (tx) => {
    await tx.query(LOCK_KEYS_SQL, [keys], { name: 'rw_claim_lock_keys' });
    const counts = await tx.query<{ key: string; n: number }>(KEY_COUNTS_SQL, [keys, CONCURRENCY_HOLDING], { name: 'rw_claim_key_counts' });
    const held = new Map(counts.map((c) => [c.key, Number(c.n)]));
    const admitted: string[] = [];
    for (const c of candidates) {
      if (admitted.length >= limit) break;
      const n = held.get(c.key) ?? 0;
      if (n >= (c.lim ?? 1)) continue;
      held.set(c.key, n + 1);
      admitted.push(c.id);
    }
    if (!admitted.length) return [];
    const rows = await tx.query<Record<string, unknown>>(CLAIM_KEYED_SQL, [...claimParams(opts, admitted.length), admitted], { name: 'rw_claim_keyed' });
    return toClaimed(rows);
  });
}

/** What a queued task held back by its concurrency key waits for. */
export interface ConcurrencyWait {
  key: string;
  limit: number;
  /** The tasks holding the key's slots, oldest first (at most MAX_WAIT_HOLDERS of them). */
  holders: { id: string; state: TaskState }[];
}

/** How many holders of a key a wait lists. */
export const MAX_WAIT_HOLDERS = 20;

type WaitCandidate = { id: string; state: TaskState; concurrencyKey: string | null; concurrencyLimit: number | null };

/** What a queued task with a concurrency key waits for: the tasks holding its key's slots. */
export async function concurrencyWait(db: Db, task: WaitCandidate): Promise<ConcurrencyWait | undefined> {
  return (await concurrencyWaits(db, [task])).get(task.id);
}

/**
 * What each of these tasks waits for, by task id, in one query for them all (a page of the task
 * list): only queued tasks whose key has its limit of holders or more appear. The holders are
 * counted in full, so a key with more holders than are listed is still seen to be full.
 */
export async function concurrencyWaits(db: Db, tasks: readonly WaitCandidate[]): Promise<Map<string, ConcurrencyWait>> {
  const out = new Map<string, ConcurrencyWait>();
  const queued = tasks.filter((t) => t.state === 'queued' && t.concurrencyKey !== null);
  if (!queued.length) return out;
  const keys = [...new Set(queued.map((t) => t.concurrencyKey!))];
  const rows = await db.query<{ id: string; state: TaskState; key: string; n: number | string }>(
    `SELECT id, state, key, n FROM (
       SELECT id, state, concurrency_key AS key, count(*) OVER (PARTITION BY concurrency_key) AS n,
              row_number() OVER (PARTITION BY concurrency_key ORDER BY created_at, id) AS rn
       FROM tasks WHERE concurrency_key = ANY($1::text[]) AND state = ANY($2::text[])) h
     WHERE rn <= $3 ORDER BY key, rn`,
    [keys, CONCURRENCY_HOLDING, MAX_WAIT_HOLDERS],
    { name: 'rw_concurrency_waits' },
  );
  const byKey = new Map<string, { n: number; holders: { id: string; state: TaskState }[] }>();
  for (const r of rows) {
    const k = byKey.get(r.key) ?? { n: Number(r.n), holders: [] };
    k.holders.push({ id: r.id, state: r.state });
    byKey.set(r.key, k);
  }
  for (const t of queued) {
    const k = byKey.get(t.concurrencyKey!);
    const limit = t.concurrencyLimit ?? 1;
    // A queued task holds no slot, so it is never among its own key's holders.
    if (k && k.n >= limit) out.set(t.id, { key: t.concurrencyKey!, limit, holders: k.holders });
  }
  return out;
}

/**
 * Extends the lease while this claim still holds it (worker and epoch). Returns null when it was
 * lost, else the new expiry and whether an operator asked for cancellation (the worker stops at
 * the next safe point). A lease that expired but was not claimed by anyone since is still this
 * claim's: nobody else can have written in between, so renewing it is safe.
 */
export async function renewLease(
  db: Db,
  opts: { taskId: string; lease: Lease; now: Date; leaseMs: number },
): Promise<{ cancelRequested: boolean; expiresAt: Date } | null> {
  const expiresAt = new Date(opts.now.getTime() + opts.leaseMs);
  const rows = await db.query<{ cancel_requested: boolean }>(
    `UPDATE tasks SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $4 RETURNING cancel_requested`,
    [opts.taskId, opts.lease.workerId, expiresAt, opts.lease.epoch],
    { name: 'rw_renew_lease' },
  );
  const row = rows[0];
  return row ? { cancelRequested: row.cancel_requested, expiresAt } : null;
}

/**
 * Extends the leases of several tasks of one worker in ONE statement (a worker's renewal tick),
 * each only while its own claim (worker and epoch) still holds it. Returns, for each task still
 * held, whether an operator asked for cancellation; a task missing from the answer was lost.
 * Rows are locked in id order, so two renewals never wait on each other in a circle.
 */
export async function renewLeases(
  db: Db,
  opts: { workerId: string; leases: ReadonlyArray<{ taskId: string; epoch: number }>; now: Date; leaseMs: number },
): Promise<{ expiresAt: Date; held: Map<string, { cancelRequested: boolean }> }> {
  const expiresAt = new Date(opts.now.getTime() + opts.leaseMs);
  const held = new Map<string, { cancelRequested: boolean }>();
  if (!opts.leases.length) return { expiresAt, held };
  const sorted = [...opts.leases].sort((x, y) => (x.taskId < y.taskId ? -1 : x.taskId > y.taskId ? 1 : 0));
  const rows = await db.query<{ id: string; cancel_requested: boolean }>(
    `WITH l AS (SELECT * FROM unnest($1::text[], $2::int[]) AS l(id, epoch)),
     locked AS (SELECT t.id FROM tasks t JOIN l ON t.id = l.id AND t.lease_epoch = l.epoch WHERE t.lease_owner = $3 ORDER BY t.id FOR UPDATE OF t)
     UPDATE tasks t SET lease_expires_at = $4 FROM locked WHERE t.id = locked.id RETURNING t.id, t.cancel_requested`,
    [sorted.map((l) => l.taskId), sorted.map((l) => l.epoch), opts.workerId, expiresAt],
    { name: 'rw_renew_leases' },
  );
  for (const r of rows) held.set(r.id, { cancelRequested: Boolean(r.cancel_requested) });
  return { expiresAt, held };
}

/** The state and step of a task while this claim holds it; undefined when it does not. */
export async function heldTask(db: Db, taskId: string, lease: Lease): Promise<{ state: TaskState; currentStep: string | null } | undefined> {
  const rows = await db.query<{ state: TaskState; current_step: string | null }>(
    'SELECT state, current_step FROM tasks WHERE id = $1 AND lease_owner = $2 AND lease_epoch = $3',
    [taskId, lease.workerId, lease.epoch],
    { name: 'rw_held_task' },
  );
  const row = rows[0];
  return row ? { state: row.state, currentStep: row.current_step } : undefined;
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

/**
 * What still keeps `work --until-idle` going, and when the next retry falls due: of the tasks
 * waiting for one of `roles` (or for none), so a worker of some roles does not wait for work only
 * another role's worker can do. Default: every role.
 */
export async function idleStatus(db: Db, roles: readonly WorkRole[] = WORK_ROLES): Promise<{ busy: number; nextDueAt: Date | null }> {
  const rows = await db.query<{ busy: string | number; next_due: Date | string | null }>(
    `SELECT count(*) FILTER (WHERE state IN ('queued', 'running', 'compensating')) AS busy,
            min(next_attempt_at) FILTER (WHERE state = 'retry_scheduled') AS next_due
       FROM tasks WHERE state IN ('queued', 'running', 'compensating', 'retry_scheduled')
        AND (awaiting_role IS NULL OR awaiting_role = ANY($1::text[]))`,
    [[...roles]],
    { name: 'rw_idle_status' },
  );
  const r = rows[0];
  return { busy: Number(r?.busy ?? 0), nextDueAt: r?.next_due ? new Date(r.next_due) : null };
}

/**
 * The delivery outbox: one row per packet, sink and kind (`trigger`, `resolve`), written in the
 * transaction that escalates (or resolves) the task, so a crash can neither lose a packet nor
 * announce one that was rolled back. Hand-written SQL: the claim runs on every idle tick.
 *
 * A claim is a lease, not a state: it bumps `attempts` and pushes `next_attempt_at` past the
 * delivery's time limit. A deliverer that dies mid-send leaves a row that comes due again by
 * itself; one that finishes records the outcome fenced on the attempt number it claimed, so a
 * slow deliverer whose lease ran out cannot overwrite the one that took over.
 */
import type { Db } from './db.js';
import { toDate } from './rows.js';

/** `trigger`: the packet; `resolve`: its task left the escalation. */
export type OutboxKind = 'trigger' | 'resolve';
/** `dead`: given up (refused for good, or out of attempts); the ledger says why. */
export type OutboxState = 'pending' | 'delivered' | 'dead';

/** One delivery of one packet to one sink. */
export interface OutboxRow {
  id: number;
  packetId: string;
  taskId: string;
  sink: string;
  kind: OutboxKind;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** A claimed row with what its delivery needs. */
export interface ClaimedDelivery extends OutboxRow {
  body: Record<string, unknown>;
  /** The task's state now (what a resolve reports). */
  taskState: string;
  resolvedAt: Date | null;
}


function mapOutbox(r: Record<string, unknown>): OutboxRow {
  return {
    id: Number(r.id),
    packetId: r.packet_id as string,
    taskId: r.task_id as string,
    sink: r.sink as string,
    kind: r.kind as OutboxKind,
    state: r.state as OutboxState,
    attempts: Number(r.attempts),
    nextAttemptAt: toDate(r.next_attempt_at)!,
    lastError: (r.last_error as string | null) ?? null,
    deliveredAt: toDate(r.delivered_at),
    createdAt: toDate(r.created_at)!,
  };
}

/** Adds rows due at `now`; a row that exists (same packet, sink and kind) is left as it is. Returns the sinks added. */
export async function enqueueDeliveries(db: Db, rows: { packetId: string; taskId: string; sink: string; kind: OutboxKind }[], now: Date): Promise<string[]> {
  const added: string[] = [];
  for (const r of rows) {
    const res = await db.query<{ sink: string }>(
      `INSERT INTO outbox (packet_id, task_id, sink, kind, state, attempts, next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)
       ON CONFLICT (packet_id, sink, kind) DO NOTHING RETURNING sink`,
      [r.packetId, r.taskId, r.sink, r.kind, now],
      { name: 'rw_outbox_enqueue' },
    );
    if (res[0]) added.push(res[0].sink);
  }
  return added;
}

// A resolve waits for its trigger at the same sink: resolving an alert that does not exist yet
// is dropped by PagerDuty, and the trigger would then open an incident nothing closes.
const CLAIM_SQL = `
WITH due AS (
  SELECT o.id FROM outbox o
  WHERE o.state = 'pending' AND o.next_attempt_at <= $1
    AND (o.kind = 'trigger' OR NOT EXISTS (
      SELECT 1 FROM outbox t
      WHERE t.packet_id = o.packet_id AND t.sink = o.sink AND t.kind = 'trigger' AND t.state = 'pending'))
  ORDER BY o.next_attempt_at, o.id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE outbox x SET attempts = x.attempts + 1, next_attempt_at = $2
  FROM due WHERE x.id = due.id
  RETURNING x.*
)
SELECT upd.*, p.body, p.resolved_at, t.state AS task_state
FROM upd JOIN packets p ON p.id = upd.packet_id LEFT JOIN tasks t ON t.id = upd.task_id
ORDER BY upd.next_attempt_at, upd.id`;

/**
 * Claims up to `limit` due rows, each leased for `leaseMs` (its next attempt pushed to
 * `now + leaseMs`, its attempt count bumped). A row is claimed by one deliverer at a time.
 */
export async function claimDeliveries(db: Db, opts: { now: Date; leaseMs: number; limit: number }): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  const rows = await db.query<Record<string, unknown>>(CLAIM_SQL, [opts.now, new Date(opts.now.getTime() + opts.leaseMs), opts.limit], { name: 'rw_outbox_claim' });
  return rows.map((r) => ({
    ...mapOutbox(r),
    body: (r.body as Record<string, unknown>) ?? {},
    taskState: (r.task_state as string | null) ?? 'unknown',
    resolvedAt: toDate(r.resolved_at),
  }));
}

/**
 * Records the outcome of the attempt `attempt` of row `id`: delivered, dead, or pending again at
 * `nextAttemptAt`. Returns false when the row moved on (another deliverer took over after this
 * one's lease ran out): the caller then records nothing else.
 */
export async function recordDelivery(
  db: Db,
  r: { id: number; attempt: number; now: Date; state: OutboxState; error: string | null; nextAttemptAt?: Date },
): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `UPDATE outbox SET state = $3, last_error = $4, delivered_at = $5, next_attempt_at = COALESCE($6, next_attempt_at)
     WHERE id = $1 AND attempts = $2 AND state = 'pending' RETURNING id`,
    [r.id, r.attempt, r.state, r.error, r.state === 'delivered' ? r.now : null, r.nextAttemptAt ?? null],
    { name: 'rw_outbox_record' },
  );
  return rows.length > 0;
}

/** Trigger rows of a packet (the sinks it went to), for resolves. */
export async function triggerSinks(db: Db, packetId: string): Promise<string[]> {
  const rows = await db.query<{ sink: string }>(
    "SELECT sink FROM outbox WHERE packet_id = $1 AND kind = 'trigger' ORDER BY id",
    [packetId],
    { name: 'rw_outbox_trigger_sinks' },
  );
  return rows.map((r) => r.sink);
}

/** Outbox rows, oldest first, of one task or all. */
export async function listDeliveries(db: Db, f: { taskId?: string; packetId?: string } = {}): Promise<OutboxRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.taskId) {
    params.push(f.taskId);
    where.push(`task_id = $${params.length}`);
  }
  if (f.packetId) {
    params.push(f.packetId);
    where.push(`packet_id = $${params.length}`);
  }
  const rows = await db.query<Record<string, unknown>>(`SELECT * FROM outbox${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`, params);
  return rows.map(mapOutbox);
}

/**
 * Moves the never-attempted pending trigger rows of a packet to `until`, and returns how many it
 * moved. Holds a packet's first delivery while its advice is asked for (released by calling it
 * again with an earlier time); rows already attempted are left alone, and a holder that dies
 * leaves rows that come due by themselves at `until`.
 */
export async function holdFirstDeliveries(db: Db, packetId: string, until: Date): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `UPDATE outbox SET next_attempt_at = $2
     WHERE packet_id = $1 AND kind = 'trigger' AND state = 'pending' AND attempts = 0 RETURNING id`,
    [packetId, until],
    { name: 'rw_outbox_hold_first' },
  );
  return rows.length;
}

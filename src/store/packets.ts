/**
 * Escalation packets at rest: written in the transaction that stops the task (so a packet exists
 * exactly when the state does), read back by `runwarden packet` and the API, and marked resolved
 * when the task later leaves the escalation.
 */
import type { Db } from './db.js';
import { toDate } from './rows.js';

/** A stored packet; `body` is the packet v1 JSON (read it with `readPacket` for schema key order). */
export interface PacketRow {
  id: string;
  taskId: string;
  createdAt: Date;
  reason: string;
  route: string;
  body: Record<string, unknown>;
  resolvedAt: Date | null;
}


function mapPacket(r: Record<string, unknown>): PacketRow {
  return {
    id: r.id as string,
    taskId: r.task_id as string,
    createdAt: toDate(r.created_at)!,
    reason: r.reason as string,
    route: r.route as string,
    body: (r.body as Record<string, unknown>) ?? {},
    resolvedAt: toDate(r.resolved_at),
  };
}

/** Stores a packet (in the transaction that stops its task). */
export async function insertPacket(db: Db, p: { id: string; taskId: string; createdAt: Date; reason: string; route: string; body: unknown }): Promise<void> {
  await db.query(
    'INSERT INTO packets (id, task_id, created_at, reason, route, body) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
    [p.id, p.taskId, p.createdAt, p.reason, p.route, JSON.stringify(p.body)],
    { name: 'rw_packet_insert' },
  );
}

/**
 * The task's newest packet, or undefined. Its own packets come before a schedule's silent-failure
 * packet hanging on it (scheduler/silent-alert.ts), which is its latest only when it has no other.
 */
export async function latestPacket(db: Db, taskId: string): Promise<PacketRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(
    "SELECT * FROM packets WHERE task_id = $1 ORDER BY (reason = 'silent_failure'), created_at DESC, id DESC LIMIT 1",
    [taskId],
    { name: 'rw_packet_latest' },
  );
  return rows[0] ? mapPacket(rows[0]) : undefined;
}

/** A packet by id, or undefined. */
export async function getPacket(db: Db, id: string): Promise<PacketRow | undefined> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM packets WHERE id = $1', [id], { name: 'rw_packet_get' });
  return rows[0] ? mapPacket(rows[0]) : undefined;
}

/** The task's packets, oldest first. */
export async function listPackets(db: Db, taskId: string): Promise<PacketRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM packets WHERE task_id = $1 ORDER BY created_at, id', [taskId], { name: 'rw_packet_list' });
  return rows.map(mapPacket);
}

/** The task's unresolved packets, oldest first. */
export async function openPackets(db: Db, taskId: string): Promise<PacketRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    'SELECT * FROM packets WHERE task_id = $1 AND resolved_at IS NULL ORDER BY created_at, id',
    [taskId],
    { name: 'rw_packet_open' },
  );
  return rows.map(mapPacket);
}

/**
 * Marks these packets resolved at `now` (those not resolved already) and returns the ids it
 * changed: a packet resolves once, however many paths try.
 */
export async function resolvePackets(db: Db, ids: string[], now: Date): Promise<string[]> {
  if (!ids.length) return [];
  const rows = await db.query<{ id: string }>(
    'UPDATE packets SET resolved_at = $2 WHERE id = ANY($1::text[]) AND resolved_at IS NULL RETURNING id',
    [ids, now],
    { name: 'rw_packet_resolve' },
  );
  return rows.map((r) => r.id);
}

/** Replaces a packet's body (refreshed after an operator takes the task over). */
export async function updatePacketBody(db: Db, id: string, body: unknown): Promise<void> {
  await db.query('UPDATE packets SET body = $2::jsonb WHERE id = $1', [id, JSON.stringify(body)], { name: 'rw_packet_body' });
}

// `#>` yields SQL NULL only when the key is absent: a JSON null there means "asked, nothing came".
const NOT_ASKED = "p.body #> '{recommendation,advice}' IS NULL AND jsonb_typeof(p.body -> 'recommendation') = 'object'";

/**
 * Open packets with a trigger delivery due at `now` that was never attempted, whose advice was
 * never asked for (no `recommendation.advice` key), oldest first. Driven from the pending outbox
 * rows, which are few, so the poll never scans the packet history.
 */
export async function packetsAwaitingAdvice(db: Db, opts: { now: Date; limit: number }): Promise<PacketRow[]> {
  if (opts.limit <= 0) return [];
  const rows = await db.query<Record<string, unknown>>(
    `SELECT p.* FROM packets p
     WHERE p.id IN (SELECT o.packet_id FROM outbox o
                    WHERE o.state = 'pending' AND o.next_attempt_at <= $1 AND o.kind = 'trigger' AND o.attempts = 0)
       AND p.resolved_at IS NULL AND ${NOT_ASKED}
     ORDER BY p.created_at, p.id
     LIMIT $2`,
    [opts.now, opts.limit],
    { name: 'rw_packet_awaiting_advice' },
  );
  return rows.map(mapPacket);
}

/**
 * Marks a packet's advice as asked for (`recommendation.advice` = null) unless it was already.
 * True for the one caller that marked it: only that caller asks the model, so a packet is
 * advised at most once however many deliverers see it.
 */
export async function markAdviceAsked(db: Db, id: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `UPDATE packets p SET body = jsonb_set(p.body, '{recommendation,advice}', 'null'::jsonb)
     WHERE p.id = $1 AND ${NOT_ASKED} RETURNING p.id`,
    [id],
    { name: 'rw_packet_advice_mark' },
  );
  return rows.length > 0;
}

/** Stores a packet's advice in `recommendation.advice`, leaving the rest of the body as it is. */
export async function setPacketAdvice(db: Db, id: string, advice: unknown): Promise<void> {
  await db.query(
    "UPDATE packets SET body = jsonb_set(body, '{recommendation,advice}', $2::jsonb) WHERE id = $1 AND jsonb_typeof(body -> 'recommendation') = 'object'",
    [id, JSON.stringify(advice)],
    { name: 'rw_packet_advice_set' },
  );
}

/**
 * The intake event log (`intake_events`), task origins (`task_origins`) and the write-back outbox
 * (`writebacks`): what intake sources received and made, where a task came from, and the
 * outcomes still to be told to it. Hand-written SQL, as the packet outbox's.
 */
import { RunwardenError } from '../errors.js';
import type { Db } from './db.js';
import { toDate } from './rows.js';

export type IntakeOutcome = 'processed' | 'unauthorized' | 'invalid';

/** What one unit of a request became. */
export interface IntakeUnitResult {
  /** `alerts[2]` for an Alertmanager group, `payload` otherwise. */
  unit: string;
  result: 'created' | 'deduplicated' | 'rejected' | 'refused' | 'excluded' | 'cancelled' | 'ignored';
  taskId?: string;
  externalRef?: string;
  reason?: string;
}

export interface IntakeEventRow {
  id: string;
  source: string;
  sourceType: string;
  receivedAt: Date;
  deliveryId: string | null;
  outcome: IntakeOutcome;
  summary: Record<string, number>;
  results: IntakeUnitResult[];
  error: string | null;
}

export async function insertIntakeEvent(db: Db, e: IntakeEventRow): Promise<void> {
  await db.query(
    `INSERT INTO intake_events (id, source, source_type, received_at, delivery_id, outcome, summary, results, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)`,
    [e.id, e.source, e.sourceType, e.receivedAt, e.deliveryId, e.outcome, JSON.stringify(e.summary), JSON.stringify(e.results), e.error],
    { name: 'rw_intake_event_insert' },
  );
}

/** Intake events newest first, of one source or all. Default limit 50. */
export async function listIntakeEvents(db: Db, f: { source?: string; limit?: number } = {}): Promise<IntakeEventRow[]> {
  return (await listIntakePage(db, { ...f, limit: f.limit ?? 50 })).events;
}

function encodeCursor(e: IntakeEventRow): string {
  return Buffer.from(JSON.stringify([e.receivedAt.toISOString(), e.id])).toString('base64url');
}

function decodeCursor(cursor: string): [Date, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && !Number.isNaN(Date.parse(v[0])) && typeof v[1] === 'string') return [new Date(v[0]), v[1]];
  } catch {
    // falls through to the refusal
  }
  throw new RunwardenError('REQUEST_INVALID', 'cursor is not one this log gave out; follow the link to older requests unchanged', {
    problems: [{ path: 'cursor', message: 'not a cursor from a previous page' }],
  });
}

/**
 * One page of intake events newest first, and the cursor of the next (null on the last page):
 * keyset paging on `(received_at, id)`, so a request received meanwhile neither repeats nor
 * hides one.
 */
export async function listIntakePage(db: Db, f: { source?: string; limit: number; cursor?: string }): Promise<{ events: IntakeEventRow[]; nextCursor: string | null }> {
  const params: unknown[] = [];
  const where: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.source) where.push(`source = ${p(f.source)}`);
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor);
    where.push(`(received_at, id) < (${p(at)}::timestamptz, ${p(id)})`);
  }
  // One more than asked tells whether there is a next page without a count.
  const limit = p(f.limit + 1);
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM intake_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, id DESC LIMIT ${limit}`,
    params,
  );
  const events = rows.slice(0, f.limit).map(mapIntakeEvent);
  return { events, nextCursor: rows.length > f.limit ? encodeCursor(events[events.length - 1]!) : null };
}

function mapIntakeEvent(r: Record<string, unknown>): IntakeEventRow {
  return {
    id: r.id as string,
    source: r.source as string,
    sourceType: r.source_type as string,
    receivedAt: toDate(r.received_at)!,
    deliveryId: (r.delivery_id as string | null) ?? null,
    outcome: r.outcome as IntakeOutcome,
    summary: (r.summary as Record<string, number>) ?? {},
    results: (r.results as IntakeUnitResult[]) ?? [],
    error: (r.error as string | null) ?? null,
  };
}

export interface TaskOrigin {
  taskId: string;
  source: string;
  sourceType: string;
  target: Record<string, unknown>;
}

/** Records where a task came from; a task keeps the first origin recorded. */
export async function insertTaskOrigin(db: Db, o: TaskOrigin, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO task_origins (task_id, source, source_type, target, created_at) VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (task_id) DO NOTHING`,
    [o.taskId, o.source, o.sourceType, JSON.stringify(o.target), now],
    { name: 'rw_task_origin_insert' },
  );
}

export async function taskOrigin(db: Db, taskId: string): Promise<TaskOrigin | undefined> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM task_origins WHERE task_id = $1', [taskId], { name: 'rw_task_origin' });
  const r = rows[0];
  return r ? { taskId: r.task_id as string, source: r.source as string, sourceType: r.source_type as string, target: (r.target as Record<string, unknown>) ?? {} } : undefined;
}

export type WritebackKind = 'escalated' | 'ended';
export type WritebackState = 'pending' | 'delivered' | 'dead';

export interface WritebackRow {
  id: number;
  taskId: string;
  source: string;
  kind: WritebackKind;
  key: string;
  body: Record<string, unknown>;
  state: WritebackState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}

function mapWriteback(r: Record<string, unknown>): WritebackRow {
  return {
    id: Number(r.id),
    taskId: r.task_id as string,
    source: r.source as string,
    kind: r.kind as WritebackKind,
    key: r.key as string,
    body: (r.body as Record<string, unknown>) ?? {},
    state: r.state as WritebackState,
    attempts: Number(r.attempts),
    nextAttemptAt: toDate(r.next_attempt_at)!,
    lastError: (r.last_error as string | null) ?? null,
    deliveredAt: toDate(r.delivered_at),
  };
}

/** Queues a write-back due at `now`; a row with the same key is left as it is. True when added. */
export async function enqueueWriteback(db: Db, w: { taskId: string; source: string; kind: WritebackKind; key: string; body: Record<string, unknown> }, now: Date): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO writebacks (task_id, source, kind, key, body, state, attempts, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, 'pending', 0, $6, $6) ON CONFLICT (key) DO NOTHING RETURNING id`,
    [w.taskId, w.source, w.kind, w.key, JSON.stringify(w.body), now],
    { name: 'rw_writeback_enqueue' },
  );
  return rows.length > 0;
}

/** Claims one due row for `leaseMs` (attempts bumped, next attempt pushed past the send). */
export async function claimWriteback(db: Db, opts: { now: Date; leaseMs: number }): Promise<WritebackRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(
    `WITH due AS (
       SELECT id FROM writebacks WHERE state = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE writebacks x SET attempts = x.attempts + 1, next_attempt_at = $2 FROM due WHERE x.id = due.id RETURNING x.*`,
    [opts.now, new Date(opts.now.getTime() + opts.leaseMs)],
    { name: 'rw_writeback_claim' },
  );
  return rows[0] ? mapWriteback(rows[0]) : undefined;
}

/** Records the outcome of attempt `attempt`; false when another deliverer took the row over. */
export async function recordWriteback(db: Db, r: { id: number; attempt: number; now: Date; state: WritebackState; error: string | null; nextAttemptAt?: Date }): Promise<boolean> {
  const rows = await db.query<{ id: number }>(
    `UPDATE writebacks SET state = $3, last_error = $4, delivered_at = $5, next_attempt_at = COALESCE($6, next_attempt_at)
     WHERE id = $1 AND attempts = $2 AND state = 'pending' RETURNING id`,
    [r.id, r.attempt, r.state, r.error, r.state === 'delivered' ? r.now : null, r.nextAttemptAt ?? null],
    { name: 'rw_writeback_record' },
  );
  return rows.length > 0;
}

export async function listWritebacks(db: Db, f: { taskId?: string } = {}): Promise<WritebackRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM writebacks${f.taskId ? ' WHERE task_id = $1' : ''} ORDER BY id`,
    f.taskId ? [f.taskId] : [],
  );
  return rows.map(mapWriteback);
}

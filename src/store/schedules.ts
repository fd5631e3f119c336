/**
 * Schedules at rest: the schedule row (cursor, pause, the fire waiting behind a run, the open
 * silent-failure packet), its ledger (`schedule_events`, numbered per runbook), and one row per
 * fire (`schedule_fires`), the claim that makes each fire happen once however many schedulers
 * run. Time is always the caller's clock, passed in.
 *
 * A schedule's row and its events change in ONE statement (as a task's do in `applyChange`), so
 * the ledger never misses a change nor records one that was not made. Whoever handles a schedule
 * holds its row (`FOR UPDATE`) for the transaction; on PostgreSQL a transaction-scoped advisory
 * lock lets a second scheduler pass over a schedule being handled instead of queueing behind it.
 */
import type { FireKind, FireOutcome, ScheduleEventType } from '../lifecycle/schedule-vocabulary.js';
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { toDate } from './rows.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

/** Missed fires not yet told to a run: how many, the first and the last. */
export interface MissedNote {
  count: number;
  /** ISO time of the first missed fire. */
  from: string;
  /** ISO time of the last missed fire. */
  to: string;
  /** True when there were more than runwarden counted (`count` is a lower bound). */
  more?: boolean;
}

/** A schedule as stored (table `schedules`). */
export interface ScheduleRow {
  runbookId: string;
  cron: string;
  timezone: string;
  cursorAt: Date;
  watchSince: Date;
  paused: boolean;
  pausedAt: Date | null;
  pausedBy: string | null;
  pauseReason: string | null;
  queuedFireAt: Date | null;
  missedNote: MissedNote | null;
  alertPacketId: string | null;
  alertSince: Date | null;
  eventSeq: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One event of a schedule's ledger. */
export interface ScheduleEventRow {
  seq: number;
  at: Date;
  type: ScheduleEventType;
  actor: string;
  data: Record<string, unknown>;
}

/** An event to append: `seq` and `at` come from the change that writes it. */
export interface NewScheduleEvent {
  type: ScheduleEventType;
  /** `scheduler`, `operator:<name>`. */
  actor: string;
  data?: Record<string, unknown>;
}

/** One fire as stored (table `schedule_fires`). */
export interface FireRow {
  runbookId: string;
  fireAt: Date;
  kind: FireKind;
  taskId: string | null;
  outcome: FireOutcome;
  createdAt: Date;
}

function mapSchedule(r: Record<string, unknown>): ScheduleRow {
  return {
    runbookId: r.runbook_id as string,
    cron: r.cron as string,
    timezone: r.timezone as string,
    cursorAt: toDate(r.cursor_at)!,
    watchSince: toDate(r.watch_since)!,
    paused: Boolean(r.paused),
    pausedAt: toDate(r.paused_at),
    pausedBy: (r.paused_by as string | null) ?? null,
    pauseReason: (r.pause_reason as string | null) ?? null,
    queuedFireAt: toDate(r.queued_fire_at),
    missedNote: (r.missed_note as MissedNote | null) ?? null,
    alertPacketId: (r.alert_packet_id as string | null) ?? null,
    alertSince: toDate(r.alert_since),
    eventSeq: Number(r.event_seq ?? 0),
    createdAt: toDate(r.created_at)!,
    updatedAt: toDate(r.updated_at)!,
  };
}

function mapFire(r: Record<string, unknown>): FireRow {
  return {
    runbookId: r.runbook_id as string,
    fireAt: toDate(r.fire_at)!,
    kind: r.kind as FireKind,
    taskId: (r.task_id as string | null) ?? null,
    outcome: r.outcome as FireOutcome,
    createdAt: toDate(r.created_at)!,
  };
}

/** Advisory lock namespace of schedules ('rws'); the second key is the runbook id's hash. */
const SCHEDULE_LOCK = 0x727773;

/**
 * Tries the transaction-scoped advisory lock of one schedule: false when another scheduler is
 * handling it right now (it is then passed over until the next tick, never waited for). Released
 * at commit or rollback, so a scheduler that dies cannot keep it.
 */
export async function tryLockSchedule(tx: Db, runbookId: string): Promise<boolean> {
  const rows = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [SCHEDULE_LOCK, runbookId], { name: 'rw_schedule_lock' });
  return rows[0]?.ok === true;
}

/** Every schedule row (a plain read: what may need handling). */
export async function listScheduleRows(db: Db): Promise<ScheduleRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM schedules ORDER BY runbook_id', [], { name: 'rw_schedules_list' });
  return rows.map(mapSchedule);
}

/** One schedule row, or undefined. With `forUpdate`, locked for the rest of the transaction. */
export async function getScheduleRow(db: Db, runbookId: string, o: { forUpdate?: boolean } = {}): Promise<ScheduleRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(`SELECT * FROM schedules WHERE runbook_id = $1${o.forUpdate ? ' FOR UPDATE' : ''}`, [runbookId]);
  return rows[0] ? mapSchedule(rows[0]) : undefined;
}

/**
 * Creates the schedule's row (fires count from `now`) with its `schedule.registered` event, or
 * leaves the one that exists. Either way returns the row, locked for the transaction.
 */
export async function registerSchedule(tx: Db, s: { runbookId: string; cron: string; timezone: string; now: Date; actor: string; data?: Record<string, unknown> }): Promise<ScheduleRow> {
  await tx.query(
    `WITH s AS (
       INSERT INTO schedules (runbook_id, cron, timezone, cursor_at, watch_since, event_seq, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $4, 1, $4, $4)
       ON CONFLICT (runbook_id) DO NOTHING RETURNING runbook_id
     )
     INSERT INTO schedule_events (runbook_id, seq, at, type, actor, data)
     SELECT runbook_id, 1, $4, 'schedule.registered', $5, $6::jsonb FROM s`,
    [s.runbookId, s.cron, s.timezone, s.now, s.actor, JSON.stringify({ cron: s.cron, timezone: s.timezone, ...(s.data ?? {}) })],
    { name: 'rw_schedule_register' },
  );
  return (await getScheduleRow(tx, s.runbookId, { forUpdate: true }))!;
}

/** The columns a schedule change may set. */
export type SchedulePatch = Partial<
  Pick<ScheduleRow, 'cron' | 'timezone' | 'cursorAt' | 'watchSince' | 'paused' | 'pausedAt' | 'pausedBy' | 'pauseReason' | 'queuedFireAt' | 'missedNote' | 'alertPacketId' | 'alertSince'>
>;

const COLUMNS: Record<keyof SchedulePatch, { column: string; json?: true }> = {
  cron: { column: 'cron' },
  timezone: { column: 'timezone' },
  cursorAt: { column: 'cursor_at' },
  watchSince: { column: 'watch_since' },
  paused: { column: 'paused' },
  pausedAt: { column: 'paused_at' },
  pausedBy: { column: 'paused_by' },
  pauseReason: { column: 'pause_reason' },
  queuedFireAt: { column: 'queued_fire_at' },
  missedNote: { column: 'missed_note', json: true },
  alertPacketId: { column: 'alert_packet_id' },
  alertSince: { column: 'alert_since' },
};

/**
 * Applies a patch to a schedule and appends its events with consecutive numbers, in one
 * statement. Events are stamped no earlier than the schedule's last change, so its ledger reads
 * forward even when the processes writing it disagree about the time. Returns the row, or
 * undefined when there is no such schedule.
 */
export async function changeSchedule(db: Db, c: { runbookId: string; now: Date; patch?: SchedulePatch; events: NewScheduleEvent[] }): Promise<ScheduleRow | undefined> {
  const params: unknown[] = [c.runbookId, c.now];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const sets: string[] = [];
  for (const [key, value] of Object.entries(c.patch ?? {})) {
    const col = COLUMNS[key as keyof SchedulePatch];
    if (!col) throw new Error(`changeSchedule: ${key} is not a column a change may set`);
    if (value === undefined) continue;
    sets.push(col.json ? `${col.column} = ${p(value === null ? null : JSON.stringify(value))}::jsonb` : `${col.column} = ${p(value)}`);
  }
  const n = p(c.events.length);
  const evs = p(JSON.stringify(c.events.map((e, i) => ({ ord: i + 1, type: e.type, actor: e.actor, data: e.data ?? {} }))));
  const rows = await db.query<Record<string, unknown>>(
    `WITH o AS (SELECT runbook_id, GREATEST($2::timestamptz, updated_at) AS at FROM schedules WHERE runbook_id = $1 FOR UPDATE),
     s AS (
       UPDATE schedules x SET ${[...sets, `event_seq = x.event_seq + ${n}::int`, 'updated_at = o.at'].join(', ')}
       FROM o WHERE x.runbook_id = o.runbook_id
       RETURNING x.*
     ),
     ev AS (
       INSERT INTO schedule_events (runbook_id, seq, at, type, actor, data)
       SELECT s.runbook_id, s.event_seq - ${n}::int + e.ord, s.updated_at, e.type, e.actor, e.data
       FROM s, jsonb_to_recordset(${evs}::jsonb) AS e(ord int, type text, actor text, data jsonb)
     )
     SELECT * FROM s`,
    params,
  );
  return rows[0] ? mapSchedule(rows[0]) : undefined;
}

/** The schedule's ledger, oldest first; with `limit`, the newest `limit` events (still oldest first). */
export async function listScheduleEvents(db: Db, runbookId: string, o: { limit?: number } = {}): Promise<ScheduleEventRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM (SELECT seq, at, type, actor, data FROM schedule_events WHERE runbook_id = $1 ORDER BY seq DESC LIMIT $2) e ORDER BY seq`,
    [runbookId, o.limit ?? 1_000_000],
    { name: 'rw_schedule_events' },
  );
  return rows.map((r) => ({ seq: Number(r.seq), at: toDate(r.at)!, type: r.type as ScheduleEventType, actor: r.actor as string, data: (r.data as Record<string, unknown>) ?? {} }));
}

/**
 * Claims one fire: inserts its row with `outcome`, true when this call made it. A concurrent
 * claim of the same fire waits for this one's transaction and then finds the row (false), so a
 * fire is handled once however many schedulers try.
 */
export async function claimFire(tx: Db, f: { runbookId: string; fireAt: Date; kind: FireKind; outcome: FireOutcome; now: Date }): Promise<boolean> {
  const rows = await tx.query(
    `INSERT INTO schedule_fires (runbook_id, fire_at, kind, outcome, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (runbook_id, fire_at, kind) DO NOTHING RETURNING 1`,
    [f.runbookId, f.fireAt, f.kind, f.outcome, f.now],
    { name: 'rw_fire_claim' },
  );
  return rows.length > 0;
}

/** Records what became of a fire; with `from`, only while its outcome is still that (a queued fire starts once). */
export async function setFireOutcome(tx: Db, f: { runbookId: string; fireAt: Date; kind: FireKind; outcome: FireOutcome; taskId: string | null; from?: FireOutcome }): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE schedule_fires SET outcome = $4, task_id = $5
     WHERE runbook_id = $1 AND fire_at = $2 AND kind = $3${f.from ? ' AND outcome = $6' : ''} RETURNING 1`,
    [f.runbookId, f.fireAt, f.kind, f.outcome, f.taskId, ...(f.from ? [f.from] : [])],
  );
  return rows.length > 0;
}

/** The schedule's fires, newest first (default 20). */
export async function listFires(db: Db, runbookId: string, o: { limit?: number } = {}): Promise<FireRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM schedule_fires WHERE runbook_id = $1 ORDER BY fire_at DESC, kind LIMIT $2', [runbookId, o.limit ?? 20], {
    name: 'rw_fires_list',
  });
  return rows.map(mapFire);
}

/**
 * States in which a scheduled run is still going (what `overlap` looks at). A run waiting for a
 * person after an exception (escalated, in handover) or closed does not hold the schedule up: a
 * failing run must never stop the schedule. One awaiting approval does: it goes on by itself.
 */
export const GOING_STATES: readonly TaskState[] = ['queued', 'running', 'retry_scheduled', 'waiting_callback', 'awaiting_approval', 'compensating'];

const RUNS = `SELECT t.* FROM tasks t JOIN schedule_fires f ON f.task_id = t.id WHERE f.runbook_id = $1`;

/** The schedule's newest run that is still going, or undefined. */
export async function goingRun(db: Db, runbookId: string): Promise<TaskRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(`${RUNS} AND t.state = ANY($2::text[]) ORDER BY t.created_at DESC, t.id DESC LIMIT 1`, [runbookId, GOING_STATES], { name: 'rw_schedule_going' });
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

/** The schedule's newest run (fire or run-now, refused ones included), or undefined. */
export async function latestRun(db: Db, runbookId: string): Promise<TaskRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(`${RUNS} ORDER BY t.created_at DESC, t.id DESC LIMIT 1`, [runbookId], { name: 'rw_schedule_latest' });
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

/** The schedule's run that completed last (a `completed` task's last change is its completion), or undefined. */
export async function lastCompletedRun(db: Db, runbookId: string): Promise<TaskRow | undefined> {
  const rows = await db.query<Record<string, unknown>>(`${RUNS} AND t.state = 'completed' ORDER BY t.updated_at DESC, t.id DESC LIMIT 1`, [runbookId], { name: 'rw_schedule_last_ok' });
  return rows[0] ? mapTaskRow(rows[0]) : undefined;
}

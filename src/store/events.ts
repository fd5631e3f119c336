/**
 * The ledger: an append-only list of events per task, numbered 1, 2, 3... with no gaps. Events
 * are written only by `applyChange` (and intake's insert), in the same statement that changes the
 * task, so the ledger and the task row can never disagree.
 */
import type { EventType } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { toDate } from './rows.js';

/** An event to append: `seq` and `at` come from the change that writes it. */
export interface NewEvent {
  type: EventType;
  /** Default: the task's current step after the change. */
  step?: string | null;
  /** `intake`, `worker:<id>`, `operator:<name>`, `scheduler`, `callback`. */
  actor: string;
  data?: Record<string, unknown>;
}

/** A stored event. */
export interface EventRow {
  seq: number;
  at: Date;
  type: EventType;
  step: string | null;
  actor: string;
  data: Record<string, unknown>;
}

/** An `events` row to an EventRow. */
export function mapEventRow(r: Record<string, unknown>): EventRow {
  return {
    seq: Number(r.seq),
    at: toDate(r.at)!,
    type: r.type as EventType,
    step: (r.step as string | null) ?? null,
    actor: r.actor as string,
    data: (r.data as Record<string, unknown>) ?? {},
  };
}

/** A task's ledger in order (seq ascending). */
export async function listEvents(db: Db, taskId: string): Promise<EventRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    'SELECT seq, at, type, step, actor, data FROM events WHERE task_id = $1 ORDER BY seq',
    [taskId],
    { name: 'rw_list_events' },
  );
  return rows.map(mapEventRow);
}

/** The events of one type of several tasks, by task id, in ledger order (one query for them all). */
export async function listEventsOfType(db: Db, taskIds: readonly string[], type: EventType): Promise<Map<string, EventRow[]>> {
  const out = new Map<string, EventRow[]>();
  if (!taskIds.length) return out;
  const rows = await db.query<Record<string, unknown>>(
    'SELECT task_id, seq, at, type, step, actor, data FROM events WHERE task_id = ANY($1::text[]) AND type = $2 ORDER BY task_id, seq',
    [[...new Set(taskIds)], type],
    { name: 'rw_list_events_of_type' },
  );
  for (const r of rows) {
    const id = r.task_id as string;
    out.set(id, [...(out.get(id) ?? []), mapEventRow(r)]);
  }
  return out;
}

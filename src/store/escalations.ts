/**
 * Escalations that wait for an acknowledgement (`escalation.ackWithin`): each escalated task with
 * when its escalation began, how often it was escalated again since, and whether an operator has
 * acted on it since (any operator action acknowledges it). Read by the acknowledgement watch.
 */
import type { Db } from './db.js';
import { toDate } from './rows.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

export interface OpenEscalation {
  task: TaskRow;
  /** When the task last entered `escalated`. */
  escalatedAt: Date;
  /** Re-escalations since then (`escalation.reescalated` events). */
  rounds: number;
  /** An operator acted on the task since it was escalated. */
  acknowledged: boolean;
}

const OPEN_ESCALATIONS_SQL = `
SELECT t.*, e.at AS escalated_at,
       (SELECT count(*)::int FROM events r WHERE r.task_id = t.id AND r.type = 'escalation.reescalated' AND r.seq > e.seq) AS rounds,
       EXISTS (SELECT 1 FROM events o WHERE o.task_id = t.id AND o.type = 'operator.action' AND o.seq > e.seq) AS acknowledged
  FROM tasks t
  CROSS JOIN LATERAL (
    SELECT seq, at FROM events s
     WHERE s.task_id = t.id AND s.type = 'state.changed' AND s.data->>'to' = 'escalated'
     ORDER BY seq DESC LIMIT 1
  ) e
 WHERE t.state = 'escalated' AND t.runbook_id = ANY($1::text[])
 ORDER BY e.at
 LIMIT $2`;

/** Escalated tasks of the runbooks named (those with `ackWithin`), oldest escalation first. */
export async function openEscalations(db: Db, runbookIds: readonly string[], limit = 200): Promise<OpenEscalation[]> {
  if (!runbookIds.length) return [];
  const rows = await db.query<Record<string, unknown>>(OPEN_ESCALATIONS_SQL, [[...runbookIds], limit], { name: 'rw_open_escalations' });
  return rows.map((r) => ({ task: mapTaskRow(r), escalatedAt: toDate(r.escalated_at)!, rounds: Number(r.rounds), acknowledged: Boolean(r.acknowledged) }));
}

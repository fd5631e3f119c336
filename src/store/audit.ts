/**
 * The checks a person makes of automation (runbook-format.md, "Additions in v1.1"): a random
 * sample of finished tasks to review, each review recorded in the task's ledger
 * (`audit.recorded`, verdict `ok` or `issue` with a note), and the figures the report shows:
 * how much of the finished work was reviewed, what the reviews found, and how often an operator
 * who closed or resumed an escalation said its packet was enough to act on (`packetHelpful` on
 * the `operator.action` event).
 */
import { RunwardenError } from '../errors.js';
import { CLOSED_STATES, type TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { toDate } from './rows.js';
import { applyChange, mapTaskRow, type TaskRow } from './tasks.js';

export const AUDIT_VERDICTS = ['ok', 'issue'] as const;
export type AuditVerdict = (typeof AUDIT_VERDICTS)[number];

/** The states a finished task is in: what an audit samples from. */
export const AUDITABLE_STATES: readonly TaskState[] = CLOSED_STATES;

export interface AuditScope {
  /**
   * Only tasks finished at or after this time (when the task entered the closed state it is in,
   * read from its ledger); default: all.
   */
  since?: Date;
  /** Only tasks of this runbook; default: all. */
  runbook?: string;
}

/**
 * The tasks in scope, as a WHERE over `tasks t` ($1 the closed states, $2 since, $3 runbook).
 * "Finished since" is read from the ledger, not from `updated_at`: a review, like every ledger
 * event, moves `updated_at`, and a task finished a month ago and reviewed today would otherwise
 * count as finished this week, reviewed, and lift the coverage of every window that holds today.
 * The `updated_at` test stays first as a cheap filter (a task finished since then was changed
 * since then).
 */
const FINISHED_AT = (t: string) => `coalesce((SELECT max(e.at) FROM events e WHERE e.task_id = ${t}.id AND e.type = 'state.changed'), ${t}.updated_at)`;
const IN_SCOPE = `t.state = ANY($1::text[])
  AND ($3::text IS NULL OR t.runbook_id = $3)
  AND ($2::timestamptz IS NULL OR (t.updated_at >= $2 AND ${FINISHED_AT('t')} >= $2))`;

/**
 * The same scope as CTEs ending in `fin(id)`, for the queries that read every task in scope. The
 * cheap filter is materialized first: planned as one WHERE, the ledger look-up is costed for every
 * finished task, and that estimate (not the work) switches on PostgreSQL's JIT, which then
 * takes most of the query's time (measured: 450 of 590 ms over 200,000 tasks for a day's window).
 */
const FINISHED = `cand AS MATERIALIZED (
    SELECT t.id, t.updated_at FROM tasks t
     WHERE t.state = ANY($1::text[]) AND ($3::text IS NULL OR t.runbook_id = $3) AND ($2::timestamptz IS NULL OR t.updated_at >= $2)),
  fin AS (SELECT c.id FROM cand c WHERE $2::timestamptz IS NULL OR ${FINISHED_AT('c')} >= $2)`;

/** A share rounded to 4 decimals, as the report's rates are; null without a denominator. */
const share = (n: number, d: number): number | null => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null);

/**
 * Up to `size` finished tasks picked at random (default 10), those never reviewed first: the
 * sample a reviewer reads through `show` and records with `recordAudit`.
 */
export async function sampleFinished(db: Db, o: AuditScope & { size?: number }): Promise<TaskRow[]> {
  const size = o.size ?? 10;
  if (!Number.isInteger(size) || size < 1) throw new RunwardenError('USAGE', `the sample size must be a whole number of at least 1, got ${String(o.size)}`);
  const rows = await db.query<Record<string, unknown>>(
    `WITH ${FINISHED}
     SELECT t.* FROM tasks t JOIN fin ON fin.id = t.id
      ORDER BY EXISTS (SELECT 1 FROM events e WHERE e.task_id = t.id AND e.type = 'audit.recorded'), random()
      LIMIT $4`,
    [[...AUDITABLE_STATES], o.since ?? null, o.runbook ?? null, size],
    { name: 'rw_audit_sample' },
  );
  return rows.map(mapTaskRow);
}

/** Records a review of a finished task in its ledger. Refused for a task that is not finished. */
export async function recordAudit(db: Db, a: { taskId: string; verdict: AuditVerdict; note: string; auditor: string; now: Date }): Promise<TaskRow> {
  if (!(AUDIT_VERDICTS as readonly string[]).includes(a.verdict)) {
    throw new RunwardenError('REQUEST_INVALID', `verdict must be ${AUDIT_VERDICTS.join(' or ')}, got ${String(a.verdict)}`);
  }
  if (!a.auditor.trim()) throw new RunwardenError('REQUEST_INVALID', 'who reviewed the task is required (--auditor)');
  if (a.verdict === 'issue' && !a.note.trim()) throw new RunwardenError('REQUEST_INVALID', 'an issue needs a note that says what is wrong (--note)');
  return applyChange(db, {
    taskId: a.taskId,
    now: a.now,
    expect: { states: [...AUDITABLE_STATES] },
    events: [{ type: 'audit.recorded', step: null, actor: `auditor:${a.auditor}`, data: { verdict: a.verdict, note: a.note, auditor: a.auditor } }],
  });
}

export interface AuditFinding {
  taskId: string;
  runbook: string | null;
  note: string;
  auditor: string;
  /** When the review was recorded (ISO 8601). */
  at: string;
}

export interface AuditFigures {
  /** Finished tasks in scope. */
  finished: number;
  /** Of those, the tasks with at least one review. */
  audited: number;
  /** audited / finished (4 decimals); null when nothing finished. */
  coverage: number | null;
  /** How many reviews in scope have verdict `issue` (a task reviewed twice as an issue counts twice). */
  findingCount: number;
  /** Those reviews, newest first: at most the latest 200 (`findingCount` says how many in all). */
  findings: AuditFinding[];
  /** Reviews in scope, by verdict (latest review of each task). */
  verdicts: Record<AuditVerdict, number>;
  /**
   * Escalations closed or resumed with an answer on the packet (`--packet-helpful`, operator
   * actions at or after `since`), how many said it helped, and their share (4 decimals).
   */
  packets: { answered: number; helpful: number; share: number | null };
}

/**
 * The audit figures for the report, over the tasks finished in scope (`since`, `runbook`); the
 * packet share over the operator actions in scope that answered `--packet-helpful`.
 */
export async function auditFigures(db: Db, scope: AuditScope = {}): Promise<AuditFigures> {
  const params = [[...AUDITABLE_STATES], scope.since ?? null, scope.runbook ?? null];
  const [counts] = await db.query<{ finished: number; audited: number; ok: number; issue: number }>(
    `WITH ${FINISHED},
     -- The latest review of each reviewed task, found through events_type_idx: reviews are few,
     -- so this costs far less than a look into every finished task's ledger.
     rev AS (SELECT DISTINCT ON (e.task_id) e.task_id, e.data->>'verdict' AS verdict
               FROM events e WHERE e.type = 'audit.recorded' ORDER BY e.task_id, e.seq DESC)
     SELECT count(*)::int AS finished, count(rev.verdict)::int AS audited,
            count(*) FILTER (WHERE rev.verdict = 'ok')::int AS ok, count(*) FILTER (WHERE rev.verdict = 'issue')::int AS issue
       FROM fin LEFT JOIN rev ON rev.task_id = fin.id`,
    params,
    { name: 'rw_audit_counts' },
  );
  const findings = await db.query<{ task_id: string; runbook_id: string | null; data: { note?: string; auditor?: string }; at: Date | string; total: number }>(
    `SELECT e.task_id, t.runbook_id, e.data, e.at, count(*) OVER ()::int AS total FROM events e JOIN tasks t ON t.id = e.task_id
      WHERE e.type = 'audit.recorded' AND e.data->>'verdict' = 'issue' AND ${IN_SCOPE}
      ORDER BY e.at DESC, e.task_id, e.seq DESC LIMIT 200`,
    params,
    { name: 'rw_audit_findings' },
  );
  const [packets] = await db.query<{ answered: number; helpful: number }>(
    `SELECT count(*)::int AS answered, count(*) FILTER (WHERE (e.data->>'packetHelpful')::boolean)::int AS helpful
       FROM events e JOIN tasks t ON t.id = e.task_id
      WHERE e.type = 'operator.action' AND e.data ? 'packetHelpful'
        AND ($1::timestamptz IS NULL OR e.at >= $1) AND ($2::text IS NULL OR t.runbook_id = $2)`,
    [scope.since ?? null, scope.runbook ?? null],
    { name: 'rw_audit_packets' },
  );
  const finished = Number(counts?.finished ?? 0);
  const audited = Number(counts?.audited ?? 0);
  const answered = Number(packets?.answered ?? 0);
  const helpful = Number(packets?.helpful ?? 0);
  return {
    finished,
    audited,
    coverage: share(audited, finished),
    findingCount: Number(findings[0]?.total ?? 0),
    findings: findings.map((f) => ({ taskId: f.task_id, runbook: f.runbook_id, note: String(f.data.note ?? ''), auditor: String(f.data.auditor ?? ''), at: toDate(f.at)!.toISOString() })),
    verdicts: { ok: Number(counts?.ok ?? 0), issue: Number(counts?.issue ?? 0) },
    packets: { answered, helpful, share: share(helpful, answered) },
  };
}

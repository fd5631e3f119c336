/**
 * The report (`runwarden report`, the console's charts): per runbook and per step, how tasks
 * end, how often they stop for a person, whether retries after a first failure pay off, how long
 * recovery takes, which failure classes occur and which systems cause the most pauses. Computed
 * in SQL over the ledger (the `events` table) of the tasks created in the window. Beside them,
 * the audit figures (src/store/audit.ts) over the tasks finished in the window: how much of the
 * finished work people reviewed, what they found, and how often a packet was enough.
 *
 * Definitions (docs/http-api.md, "The report"):
 * - a pause is an `escalated` or `approval.requested` event: the task stopped for a person;
 * - retry success after a first failure: of the (task, step) pairs whose step had a failed action
 *   attempt, the share whose step then succeeded with no escalation at that step in between;
 * - time to recovery: from a task's first failed attempt to its completion (`completed`), for
 *   the tasks that had one, as p50 and p90 in seconds.
 *
 * What makes it fast on a million tasks: the window is found through `tasks_created_idx`
 * (created_at) or `tasks_runbook_idx` (runbook_id, created_at) and each task's events through the
 * ledger's primary key (task_id, seq), so the cost follows the tasks in the window, not the
 * ledger's size (bench/report.ts measures it).
 */
import { parse as parseYaml } from 'yaml';
import { auditFigures, type AuditFigures } from './audit.js';
import type { Db } from './db.js';

export interface ReportFilter {
  /** Tasks created at or after this time. Default: all. */
  since?: Date;
  runbook?: string;
  now: Date;
}

export interface Rates {
  tasks: number;
  completed: number;
  partiallyCompleted: number;
  rolledBack: number;
  failed: number;
  cancelled: number;
  /** Not ended yet (queued, running, waiting, escalated, ...). */
  open: number;
  /** Tasks that escalated at least once. */
  escalated: number;
  /** Tasks that paused for a person at least once (escalation or approval). */
  paused: number;
  completionRate: number | null;
  partialRate: number | null;
  rollbackRate: number | null;
  escalationRate: number | null;
  pauseRate: number | null;
}

export interface Recovery {
  /** Tasks that had a failed attempt and completed. */
  recovered: number;
  p50Seconds: number | null;
  p90Seconds: number | null;
}

export interface RetrySuccess {
  /** (task, step) pairs with a failed action attempt. */
  firstFailures: number;
  /** Of those, the ones whose step then succeeded without an escalation there. */
  recoveredByRetry: number;
  rate: number | null;
}

export interface StepReport {
  step: string;
  /** Tasks that entered the step. */
  tasks: number;
  pauses: number;
  /** Tasks that paused at this step / tasks that entered it. */
  pauseRate: number | null;
  retry: RetrySuccess;
  recovery: Recovery;
  failureClasses: Record<string, number>;
}

export interface RunbookReport extends Rates {
  runbook: string;
  retry: RetrySuccess;
  recovery: Recovery;
  failureClasses: Record<string, number>;
  /** Systems whose steps the tasks paused at, most pauses first. */
  pausesBySystem: Array<{ system: string; pauses: number }>;
  steps: StepReport[];
}

export interface Report {
  generatedAt: string;
  since: string | null;
  runbook: string | null;
  /** Requests rejected at intake in the window (no runbook ran). */
  rejected: number;
  totals: Rates & { retry: RetrySuccess; recovery: Recovery; failureClasses: Record<string, number> };
  /** Systems the tasks paused at, most pauses first, across runbooks. */
  pausesBySystem: Array<{ system: string; pauses: number }>;
  runbooks: RunbookReport[];
  /**
   * What people's checks of the automation found (src/store/audit.ts), for the same `since` and
   * `runbook`: coverage and findings over the tasks that finished since then (a task created
   * before the window and finished in it counts; reviews are of finished work), and the share of
   * escalations handled with a helpful packet over the operator actions since then.
   */
  audit: AuditFigures;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null);
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);

/**
 * The window and its ledger as CTEs every query starts from ($1 since, $2 runbook). Each level is
 * one grouping pass over the one below (events -> task and step -> task), never a join between
 * derived tables: their row estimates are guesses, and a guessed nested loop over two of them
 * is quadratic in the window.
 */
const WINDOW = `
  win AS (
    SELECT id, runbook_id, runbook_hash, state, created_at FROM tasks
     WHERE state <> 'rejected' AND runbook_id IS NOT NULL
       AND ($1::timestamptz IS NULL OR created_at >= $1::timestamptz)
       AND ($2::text IS NULL OR runbook_id = $2::text)
  ),
  ev AS (
    SELECT w.runbook_id, w.runbook_hash, e.task_id, e.type, e.step, e.at, e.data,
           min(e.at) FILTER (WHERE e.type = 'state.changed' AND e.data->>'to' = 'completed') OVER (PARTITION BY e.task_id) AS done_at
      FROM win w JOIN events e ON e.task_id = w.id
     WHERE e.type IN ('escalated', 'approval.requested', 'attempt.finished', 'step.started', 'step.succeeded', 'state.changed')
  ),
  per AS (
    SELECT runbook_id, runbook_hash, task_id, step,
           min(at) FILTER (WHERE type = 'attempt.finished' AND data->>'outcome' = 'failed' AND data->>'kind' = 'action') AS first_fail,
           array_agg(at) FILTER (WHERE type = 'step.succeeded') AS succ,
           array_agg(at) FILTER (WHERE type = 'escalated') AS esc,
           bool_or(type = 'step.started') AS entered,
           count(*) FILTER (WHERE type IN ('escalated', 'approval.requested')) AS pauses,
           min(done_at) AS done_at
      FROM ev WHERE step IS NOT NULL
     GROUP BY runbook_id, runbook_hash, task_id, step
  ),
  steps AS (
    SELECT per.*,
           first_fail IS NOT NULL AND EXISTS (
             SELECT 1 FROM unnest(succ) s(at)
              WHERE s.at >= first_fail AND NOT EXISTS (SELECT 1 FROM unnest(esc) x(at) WHERE x.at >= first_fail AND x.at <= s.at)
           ) AS retry_ok
      FROM per
  ),
  pt AS (
    SELECT runbook_id, task_id, min(first_fail) AS first_fail, min(done_at) AS done_at,
           sum(pauses) > 0 AS paused, bool_or(esc IS NOT NULL) AS escalated
      FROM per GROUP BY runbook_id, task_id
  )`;

type Row = Record<string, unknown>;

/** Recovery figures of a set of rows with first_fail and done_at. */
const RECOVERY = `
  count(*) FILTER (WHERE first_fail IS NOT NULL AND done_at IS NOT NULL) AS recovered,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - first_fail)) FILTER (WHERE first_fail IS NOT NULL AND done_at IS NOT NULL) AS p50,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - first_fail)) FILTER (WHERE first_fail IS NOT NULL AND done_at IS NOT NULL) AS p90`;

async function runbookRows(db: Db, params: unknown[]): Promise<Row[]> {
  return db.query<Row>(
    `WITH ${WINDOW},
     a AS (
       SELECT runbook_id, count(*) AS tasks,
              count(*) FILTER (WHERE state = 'completed') AS completed,
              count(*) FILTER (WHERE state = 'partially_completed') AS partial,
              count(*) FILTER (WHERE state = 'rolled_back') AS rolled_back,
              count(*) FILTER (WHERE state = 'failed') AS failed,
              count(*) FILTER (WHERE state = 'cancelled') AS cancelled
         FROM win GROUP BY runbook_id
     ),
     b AS (SELECT runbook_id, count(*) FILTER (WHERE escalated) AS escalated, count(*) FILTER (WHERE paused) AS paused, ${RECOVERY} FROM pt GROUP BY runbook_id),
     c AS (SELECT runbook_id, count(*) FILTER (WHERE first_fail IS NOT NULL) AS first_failures, count(*) FILTER (WHERE retry_ok) AS retry_ok FROM steps GROUP BY runbook_id)
     SELECT a.*, b.escalated, b.paused, b.recovered, b.p50, b.p90, c.first_failures, c.retry_ok
       FROM a LEFT JOIN b USING (runbook_id) LEFT JOIN c USING (runbook_id)
      ORDER BY a.runbook_id`,
    params,
  );
}

async function stepRows(db: Db, params: unknown[]): Promise<Row[]> {
  return db.query<Row>(
    `WITH ${WINDOW}
     SELECT runbook_id, step,
            count(*) FILTER (WHERE entered) AS tasks,
            sum(pauses) AS pauses,
            count(*) FILTER (WHERE pauses > 0) AS paused_tasks,
            count(*) FILTER (WHERE first_fail IS NOT NULL) AS first_failures,
            count(*) FILTER (WHERE retry_ok) AS retry_ok,
            ${RECOVERY}
       FROM steps GROUP BY runbook_id, step
      ORDER BY runbook_id, step`,
    params,
  );
}

async function failureClassRows(db: Db, params: unknown[]): Promise<Row[]> {
  return db.query<Row>(
    `WITH ${WINDOW}
     SELECT runbook_id, step, coalesce(data->>'failureClass', 'unknown') AS class, count(*) AS n
       FROM ev WHERE type = 'attempt.finished' AND data->>'outcome' = 'failed'
      GROUP BY runbook_id, step, class`,
    params,
  );
}

async function pauseRows(db: Db, params: unknown[]): Promise<Row[]> {
  return db.query<Row>(
    `WITH ${WINDOW},
     p AS (SELECT runbook_id, runbook_hash, step, sum(pauses) AS n FROM per WHERE pauses > 0 GROUP BY runbook_id, runbook_hash, step)
     SELECT p.runbook_id, p.runbook_hash, p.step, p.n, v.source
       FROM p LEFT JOIN runbook_versions v ON v.hash = p.runbook_hash`,
    params,
  );
}

async function totalRow(db: Db, params: unknown[]): Promise<Row> {
  const [r] = await db.query<Row>(
    `WITH ${WINDOW}
     SELECT (SELECT count(*) FROM tasks WHERE state = 'rejected' AND ($1::timestamptz IS NULL OR created_at >= $1::timestamptz) AND ($2::text IS NULL OR runbook_id = $2::text)) AS rejected,
            ${RECOVERY}
       FROM pt`,
    params,
  );
  return r ?? {};
}

/** Step id -> the system it acts on, read from a stored runbook version's source. */
function systemsOf(source: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof source !== 'string') return out;
  try {
    const doc = parseYaml(source) as { steps?: Array<{ id?: unknown; action?: unknown; with?: { system?: unknown; command?: unknown } }> };
    for (const s of doc?.steps ?? []) {
      if (typeof s.id !== 'string') continue;
      const system = typeof s.with?.system === 'string' ? s.with.system : typeof s.action === 'string' ? s.action : 'unknown';
      out.set(s.id, system);
    }
  } catch {
    // A source that does not parse names no systems.
  }
  return out;
}

function rates(r: Row): Rates {
  const tasks = num(r.tasks);
  const completed = num(r.completed);
  const partiallyCompleted = num(r.partial);
  const rolledBack = num(r.rolled_back);
  const failed = num(r.failed);
  const cancelled = num(r.cancelled);
  const escalated = num(r.escalated);
  const paused = num(r.paused);
  return {
    tasks,
    completed,
    partiallyCompleted,
    rolledBack,
    failed,
    cancelled,
    open: tasks - completed - partiallyCompleted - rolledBack - failed - cancelled,
    escalated,
    paused,
    completionRate: ratio(completed, tasks),
    partialRate: ratio(partiallyCompleted, tasks),
    rollbackRate: ratio(rolledBack, tasks),
    escalationRate: ratio(escalated, tasks),
    pauseRate: ratio(paused, tasks),
  };
}

const retryOf = (r: Row): RetrySuccess => ({ firstFailures: num(r.first_failures), recoveredByRetry: num(r.retry_ok), rate: ratio(num(r.retry_ok), num(r.first_failures)) });
const recoveryOf = (r: Row): Recovery => ({ recovered: num(r.recovered), p50Seconds: numOrNull(r.p50), p90Seconds: numOrNull(r.p90) });

function addTo(into: Record<string, number>, key: string, n: number): void {
  into[key] = (into[key] ?? 0) + n;
}

const ranked = (m: Map<string, number>) => [...m].map(([system, pauses]) => ({ system, pauses })).sort((a, b) => b.pauses - a.pauses || a.system.localeCompare(b.system));

/** The report over the window of `f`. */
export async function buildReport(db: Db, f: ReportFilter): Promise<Report> {
  const params = [f.since ?? null, f.runbook ?? null];
  const [rbRows, stRows, fcRows, pRows, total, audit] = await Promise.all([
    runbookRows(db, params),
    stepRows(db, params),
    failureClassRows(db, params),
    pauseRows(db, params),
    totalRow(db, params),
    auditFigures(db, { ...(f.since ? { since: f.since } : {}), ...(f.runbook ? { runbook: f.runbook } : {}) }),
  ]);
  const classes = new Map<string, Record<string, number>>();
  for (const r of fcRows) {
    addTo((classes.get(String(r.runbook_id)) ?? classes.set(String(r.runbook_id), {}).get(String(r.runbook_id)))!, String(r.class), num(r.n));
    const k = `${String(r.runbook_id)}\u0000${String(r.step)}`;
    addTo((classes.get(k) ?? classes.set(k, {}).get(k))!, String(r.class), num(r.n));
  }
  const systemsByRunbook = new Map<string, Map<string, number>>();
  const allSystems = new Map<string, number>();
  const parsed = new Map<string, Map<string, string>>();
  for (const r of pRows) {
    const hash = String(r.runbook_hash ?? '');
    if (!parsed.has(hash)) parsed.set(hash, systemsOf(r.source));
    const system = parsed.get(hash)!.get(String(r.step)) ?? 'unknown';
    const mine = systemsByRunbook.get(String(r.runbook_id)) ?? systemsByRunbook.set(String(r.runbook_id), new Map()).get(String(r.runbook_id))!;
    mine.set(system, (mine.get(system) ?? 0) + num(r.n));
    allSystems.set(system, (allSystems.get(system) ?? 0) + num(r.n));
  }
  const runbooks: RunbookReport[] = rbRows.map((r) => {
    const id = String(r.runbook_id);
    return {
      runbook: id,
      ...rates(r),
      retry: retryOf(r),
      recovery: recoveryOf(r),
      failureClasses: classes.get(id) ?? {},
      pausesBySystem: ranked(systemsByRunbook.get(id) ?? new Map()),
      steps: stRows
        .filter((s) => s.runbook_id === r.runbook_id)
        .map((s) => ({
          step: String(s.step),
          tasks: num(s.tasks),
          pauses: num(s.pauses),
          pauseRate: ratio(num(s.paused_tasks), num(s.tasks)),
          retry: retryOf(s),
          recovery: recoveryOf(s),
          failureClasses: classes.get(`${id}\u0000${String(s.step)}`) ?? {},
        })),
    };
  });
  const sum = (k: keyof Rates) => runbooks.reduce((n, r) => n + (r[k] as number), 0);
  const totalsRow: Row = {
    tasks: sum('tasks'),
    completed: sum('completed'),
    partial: sum('partiallyCompleted'),
    rolled_back: sum('rolledBack'),
    failed: sum('failed'),
    cancelled: sum('cancelled'),
    escalated: sum('escalated'),
    paused: sum('paused'),
    first_failures: runbooks.reduce((n, r) => n + r.retry.firstFailures, 0),
    retry_ok: runbooks.reduce((n, r) => n + r.retry.recoveredByRetry, 0),
    ...total,
  };
  const failureClasses: Record<string, number> = {};
  for (const r of runbooks) for (const [c, n] of Object.entries(r.failureClasses)) addTo(failureClasses, c, n);
  return {
    generatedAt: f.now.toISOString(),
    since: f.since?.toISOString() ?? null,
    runbook: f.runbook ?? null,
    rejected: num(total.rejected),
    totals: { ...rates(totalsRow), retry: retryOf(totalsRow), recovery: recoveryOf(totalsRow), failureClasses },
    pausesBySystem: ranked(allSystems),
    runbooks,
    audit,
  };
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);
const secs = (v: number | null) => (v === null ? '-' : v < 120 ? `${v.toFixed(1)}s` : v < 7200 ? `${(v / 60).toFixed(1)}m` : `${(v / 3600).toFixed(1)}h`);

/** The report for people: a block per runbook, a line per step. */
export function formatReport(r: Report): string {
  const lines: string[] = [];
  lines.push(`runwarden report${r.since ? ` since ${r.since}` : ''}${r.runbook ? ` for ${r.runbook}` : ''}: ${r.totals.tasks} task(s), ${r.rejected} rejected at intake`);
  if (!r.runbooks.length) lines.push('no tasks in the window');
  for (const rb of r.runbooks) {
    lines.push('');
    lines.push(`${rb.runbook}: ${rb.tasks} task(s); completed ${pct(rb.completionRate)}, partial ${pct(rb.partialRate)}, rolled back ${pct(rb.rollbackRate)}, escalated ${pct(rb.escalationRate)}, paused ${pct(rb.pauseRate)}; ${rb.open} open`);
    lines.push(`  retry success after a first failure ${pct(rb.retry.rate)} (${rb.retry.recoveredByRetry}/${rb.retry.firstFailures}); time to recovery p50 ${secs(rb.recovery.p50Seconds)}, p90 ${secs(rb.recovery.p90Seconds)} (${rb.recovery.recovered} recovered)`);
    const fc = Object.entries(rb.failureClasses).sort((a, b) => b[1] - a[1]);
    if (fc.length) lines.push(`  failure classes: ${fc.map(([c, n]) => `${c} ${n}`).join(', ')}`);
    if (rb.pausesBySystem.length) lines.push(`  pauses by system: ${rb.pausesBySystem.map((s) => `${s.system} ${s.pauses}`).join(', ')}`);
    const width = Math.max(4, ...rb.steps.map((s) => s.step.length));
    lines.push(`  ${'STEP'.padEnd(width)}  TASKS  PAUSE   RETRY OK  RECOVERY p50/p90`);
    for (const s of rb.steps) {
      lines.push(`  ${s.step.padEnd(width)}  ${String(s.tasks).padStart(5)}  ${pct(s.pauseRate).padStart(6)}  ${pct(s.retry.rate).padStart(8)}  ${secs(s.recovery.p50Seconds)}/${secs(s.recovery.p90Seconds)}`);
    }
  }
  lines.push('', ...formatAudit(r.audit));
  return `${lines.join('\n')}\n`;
}

/** The audit block: coverage, each finding with its task, and the packets' share. */
function formatAudit(a: AuditFigures): string[] {
  const lines = [
    `audits: ${a.audited} of ${a.finished} task(s) finished in the window reviewed (${pct(a.coverage)}); ${a.verdicts.ok} ok, ${a.verdicts.issue} issue; ${a.findingCount} finding(s)`,
    ...a.findings.map((f) => `  ${f.taskId}${f.runbook ? ` (${f.runbook})` : ''}, ${f.auditor}: ${f.note}`),
  ];
  if (a.findings.length < a.findingCount) lines.push(`  ... and ${a.findingCount - a.findings.length} older`);
  lines.push(`packets: ${a.packets.helpful} of ${a.packets.answered} escalation(s) handled with an answer said the packet was enough (${pct(a.packets.share)})`);
  return lines;
}

/**
 * The report page's figures, from `runwarden report`'s own computation (src/store/report.ts),
 * mapped onto the shape the charts draw (report-page.ts). Read defensively: a figure the report
 * does not have is drawn as "no data", never guessed.
 */
import { tryParseDuration } from '../../runbook/duration.js';
import type { Db } from '../../store/db.js';
import { buildReport, type Report } from '../../store/report.js';
import type { ReportFigures, StepFigures } from './report-page.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** A rate: a number, or `{ rate }`, or `{ count, of }`. */
function rate(v: unknown): number | null {
  if (num(v) !== null) return num(v);
  const o = obj(v);
  if (num(o.rate) !== null) return num(o.rate);
  return null;
}

function stepFigures(runbook: string, raw: unknown): StepFigures {
  const s = obj(raw);
  const retry = obj(s.retrySuccess ?? s.retryAfterFirstFailure ?? s.retry);
  const rec = obj(s.timeToRecovery ?? s.recovery);
  const tasks = num(s.tasks) ?? 0;
  const pauses = num(s.pauses) ?? 0;
  return {
    runbook,
    step: str(s.step ?? s.id, '?'),
    tasks,
    pauses,
    pauseRate: rate(s.pauseRate) ?? (tasks ? pauses / tasks : null),
    retry: {
      firstFailures: num(retry.firstFailures ?? retry.tasks ?? retry.of) ?? 0,
      recovered: num(retry.recovered ?? retry.succeeded ?? retry.count) ?? 0,
      rate: rate(retry.rate ?? s.retrySuccessRate),
    },
    recovery: { count: num(rec.count ?? rec.n ?? rec.tasks) ?? 0, p50Ms: num(rec.p50Ms ?? rec.p50), p90Ms: num(rec.p90Ms ?? rec.p90) },
  };
}

/** The report figures over `since` (a duration such as `7d`; empty: all time) for one runbook or all. */
export async function readReportFigures(db: Db, q: { since: string; runbook: string; now: Date }): Promise<ReportFigures> {
  const sinceMs = q.since ? tryParseDuration(q.since) : undefined;
  const report = await buildReport(db, {
    now: q.now,
    ...(sinceMs !== undefined ? { since: new Date(q.now.getTime() - sinceMs) } : {}),
    ...(q.runbook ? { runbook: q.runbook } : {}),
  });
  return figuresFrom(report);
}

/** The figures of a `buildReport` result, in the charts' shape. */
export function figuresFrom(report: Pick<Report, 'generatedAt' | 'since' | 'runbooks'>): ReportFigures {
  const runbooks: ReportFigures['runbooks'] = [];
  const steps: StepFigures[] = [];
  for (const raw of arr(report.runbooks)) {
    const r = obj(raw);
    const id = str(r.runbook ?? r.id, '?');
    runbooks.push({ runbook: id, tasks: num(r.tasks) ?? 0, completionRate: rate(r.completionRate ?? obj(r.rates).completed), escalationRate: rate(r.escalationRate ?? obj(r.rates).escalated) });
    for (const s of arr(r.steps)) steps.push(stepFigures(id, s));
  }
  return { generatedAt: report.generatedAt, since: report.since, runbooks, steps };
}

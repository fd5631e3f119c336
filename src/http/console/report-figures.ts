/**
 * The report page's figures: `runwarden report`'s own computation (src/store/report.ts, in SQL
 * over the ledger) mapped onto the shape the charts draw (report-page.ts), so the console and
 * the command line can never disagree.
 */
import { tryParseDuration } from '../../runbook/duration.js';
import type { Masker } from '../../secrets/mask.js';
import type { Db } from '../../store/db.js';
import { buildReport, type Report } from '../../store/report.js';
import type { ReportFigures, StepFigures } from './report-page.js';

const ms = (seconds: number | null): number | null => (seconds === null ? null : Math.round(seconds * 1000));

/** The figures of a `buildReport` result, in the charts' shape. */
export function figuresFrom(report: Pick<Report, 'generatedAt' | 'since' | 'runbooks' | 'pausesBySystem' | 'audit'>): ReportFigures {
  const steps: StepFigures[] = report.runbooks.flatMap((r) =>
    r.steps.map((s) => ({
      runbook: r.runbook,
      step: s.step,
      tasks: s.tasks,
      pauses: s.pauses,
      pauseRate: s.pauseRate,
      retry: { firstFailures: s.retry.firstFailures, recovered: s.retry.recoveredByRetry, rate: s.retry.rate },
      recovery: { count: s.recovery.recovered, p50Ms: ms(s.recovery.p50Seconds), p90Ms: ms(s.recovery.p90Seconds) },
    })),
  );
  return {
    generatedAt: report.generatedAt,
    since: report.since,
    runbooks: report.runbooks.map((r) => ({ runbook: r.runbook, tasks: r.tasks, completionRate: r.completionRate, escalationRate: r.escalationRate })),
    steps,
    pausesBySystem: report.pausesBySystem,
    audit: report.audit,
  };
}

/**
 * The report figures over `since` (a duration such as `7d`; empty: all time) for one runbook or
 * all, with the review notes masked (free text a person typed, as `runwarden report` masks it).
 */
export async function readReportFigures(db: Db, q: { since: string; runbook: string; now: Date; masker: Masker }): Promise<ReportFigures> {
  const sinceMs = q.since ? tryParseDuration(q.since) : undefined;
  const report = await buildReport(db, {
    now: q.now,
    ...(sinceMs !== undefined ? { since: new Date(q.now.getTime() - sinceMs) } : {}),
    ...(q.runbook ? { runbook: q.runbook } : {}),
  });
  return figuresFrom({ ...report, audit: { ...report.audit, findings: q.masker.maskValue(report.audit.findings) } });
}

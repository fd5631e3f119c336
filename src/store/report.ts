/** The report's figures, computed in SQL over the ledger (filled in by the next commits). */
import type { Db } from './db.js';

export interface ReportFilter {
  since?: Date;
  runbook?: string;
  now: Date;
}

export interface Report {
  generatedAt: string;
  since: string | null;
  runbook: string | null;
  runbooks: unknown[];
}

export async function buildReport(_db: Db, f: ReportFilter): Promise<Report> {
  return { generatedAt: f.now.toISOString(), since: f.since?.toISOString() ?? null, runbook: f.runbook ?? null, runbooks: [] };
}

export function formatReport(r: Report): string {
  return `report: ${r.runbooks.length} runbook(s)\n`;
}

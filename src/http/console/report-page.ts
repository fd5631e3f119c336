/**
 * The report's figures as charts: pause rate by step, retry success after a first failure, and
 * time to recovery (p50 bar over its p90); and the audits: coverage, findings, helpful packets.
 * The figures are `runwarden report`'s; this module only draws them, from the typed shape below.
 */
import type { AuditFigures } from '../../store/audit.js';
import { barChart, percent, type Bar } from './charts.js';
import { duration, when } from './format.js';
import { html, type SafeHtml } from './html.js';

/** One step's figures over the report's window. */
export interface StepFigures {
  runbook: string;
  step: string;
  /** Tasks that reached the step. */
  tasks: number;
  /** Times the step stopped for a person (escalations and approvals it asked for). */
  pauses: number;
  /** pauses / tasks; null without tasks. */
  pauseRate: number | null;
  /** Tasks whose first attempt at the step failed, and of those the ones a retry then carried. */
  retry: { firstFailures: number; recovered: number; rate: number | null };
  /** From a first failure to the task's clean completion. */
  recovery: { count: number; p50Ms: number | null; p90Ms: number | null };
}

/** The report as the console draws it. */
export interface ReportFigures {
  /** What people's reviews found, over the tasks finished in the window (src/store/audit.ts). */
  audit: AuditFigures;
  generatedAt: string;
  since: string | null;
  runbooks: { runbook: string; tasks: number; completionRate: number | null; escalationRate: number | null }[];
  steps: StepFigures[];
  /** Systems whose steps tasks paused at, most pauses first. */
  pausesBySystem: { system: string; pauses: number }[];
}

const label = (s: StepFigures) => `${s.runbook} · ${s.step}`;

export function pauseBars(steps: readonly StepFigures[]): Bar[] {
  return [...steps]
    .filter((s) => s.tasks > 0)
    .sort((a, b) => (b.pauseRate ?? 0) - (a.pauseRate ?? 0))
    .map((s) => ({ label: label(s), value: s.pauseRate, text: `${percent(s.pauseRate)} (${s.pauses} of ${s.tasks})`, tone: (s.pauseRate ?? 0) >= 0.2 ? 'alert' : (s.pauseRate ?? 0) > 0 ? 'warn' : 'ok' }));
}

export function retryBars(steps: readonly StepFigures[]): Bar[] {
  return steps
    .filter((s) => s.retry.firstFailures > 0)
    .map((s) => ({ label: label(s), value: s.retry.rate, text: `${percent(s.retry.rate)} (${s.retry.recovered} of ${s.retry.firstFailures})`, tone: (s.retry.rate ?? 0) >= 0.8 ? 'ok' : (s.retry.rate ?? 0) >= 0.5 ? 'warn' : 'alert' }));
}

export function recoveryBars(steps: readonly StepFigures[]): Bar[] {
  return steps
    .filter((s) => s.recovery.count > 0 && s.recovery.p50Ms !== null)
    .map((s) => ({
      label: label(s),
      value: s.recovery.p50Ms,
      behind: s.recovery.p90Ms,
      text: `p50 ${duration(s.recovery.p50Ms ?? 0)} · p90 ${s.recovery.p90Ms === null ? '-' : duration(s.recovery.p90Ms)}`,
      tone: 'plain',
    }));
}

export function systemBars(r: Pick<ReportFigures, 'pausesBySystem'>): Bar[] {
  return r.pausesBySystem.slice(0, 10).map((s) => ({ label: s.system, value: s.pauses, text: `${s.pauses} pause${s.pauses === 1 ? '' : 's'}`, tone: 'warn' }));
}

export function renderReport(r: ReportFigures, filter: { since: string; runbook: string }, runbookIds: string[]): SafeHtml {
  const option = (v: string, text: string, on: boolean) => html`<option value="${v}"${on ? html` selected` : ''}>${text}</option>`;
  return html`<h1>Report</h1>
<form method="get" action="/report" class="filters">
  <label>Since <select name="since">${['1h', '24h', '7d', '30d'].map((d) => option(d, `last ${d}`, filter.since === d))}${option('', 'all time', !filter.since)}</select></label>
  <label>Runbook <select name="runbook">${option('', 'all', !filter.runbook)}${runbookIds.map((id) => option(id, id, filter.runbook === id))}</select></label>
  <button>Show</button>
</form>
<p class="muted">${r.since ? `From ${when(r.since)}` : 'All time'} to ${when(r.generatedAt)}. The same figures as <code>runwarden report${filter.since ? ` --since ${filter.since}` : ''}${filter.runbook ? ` --runbook ${filter.runbook}` : ''}</code>.</p>
<table class="list"><thead><tr><th>runbook</th><th>tasks</th><th>completed</th><th>escalated</th></tr></thead><tbody>
${r.runbooks.length ? r.runbooks.map((b) => html`<tr><td>${b.runbook}</td><td>${b.tasks}</td><td>${percent(b.completionRate)}</td><td>${percent(b.escalationRate)}</td></tr>`) : html`<tr><td colspan="4" class="muted">No task in this window.</td></tr>`}
</tbody></table>
<div data-testid="charts">
${barChart(pauseBars(r.steps), { title: 'Pause rate by step', max: 1, legend: 'How often a task stopped at the step for a person. High bars are where runbooks need work.' })}
${barChart(retryBars(r.steps), { title: 'Retry success after a first failure', max: 1, legend: 'Of the tasks whose first attempt at the step failed, the share a retry carried to success.' })}
${barChart(recoveryBars(r.steps), { title: 'Time to recovery', legend: 'From a first failure to the clean completion of the task: dark bar p50, light bar p90.' })}
${barChart(systemBars(r), { title: 'Systems that pause tasks most', legend: 'Pauses at steps that act on each system.' })}
</div>
${renderAudit(r.audit)}`;
}

/** Audit coverage, the findings with links to their tasks, and the packets' share. */
export function renderAudit(a: AuditFigures): SafeHtml {
  const more = a.findingCount - a.findings.length;
  return html`<section data-testid="audit">
<h2>Audits</h2>
<p class="muted">Reviews of the tasks that finished in the window (<code>runwarden audit sample</code>, <code>runwarden audit record</code>), and what operators said of the packets when they closed or resumed an escalation (<code>--packet-helpful</code>).</p>
<table class="list"><tbody>
<tr><th>audit coverage</th><td data-testid="audit-coverage">${percent(a.coverage)} (${a.audited} of ${a.finished} finished tasks reviewed)</td></tr>
<tr><th>verdicts</th><td data-testid="audit-verdicts">${a.verdicts.ok} ok, ${a.verdicts.issue} issue</td></tr>
<tr><th>findings</th><td data-testid="audit-findings">${a.findingCount}</td></tr>
<tr><th>helpful packets</th><td data-testid="audit-packets">${percent(a.packets.share)} (${a.packets.helpful} of ${a.packets.answered} escalations handled with an answer)</td></tr>
</tbody></table>
${
  a.findings.length
    ? html`<table class="list"><thead><tr><th>task</th><th>runbook</th><th>finding</th><th>by</th><th>when</th></tr></thead><tbody>
${a.findings.map((f) => html`<tr data-testid="audit-finding" data-task="${f.taskId}"><td><a href="/tasks/${encodeURIComponent(f.taskId)}"><code>${f.taskId}</code></a></td><td>${f.runbook ?? '-'}</td><td>${f.note}</td><td>${f.auditor}</td><td>${when(f.at)}</td></tr>`)}
</tbody></table>${more > 0 ? html`<p class="muted">and ${more} older finding${more === 1 ? '' : 's'}</p>` : ''}`
    : html`<p class="muted">No review found an issue.</p>`
}
</section>`;
}

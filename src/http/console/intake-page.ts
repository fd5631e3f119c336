/**
 * The intake log: what the intake sources received, newest first, as `runwarden intake log`
 * prints it. Each request says when it came and from which source, and what each of its units
 * became: the tasks made (linked), deduplicated onto an existing task, rejected or refused with
 * why, excluded by the mapping's `when`, cancelled or ignored on resolution. A request refused
 * whole (a bad signature, an unreadable body) says why. So a mapping that matches nothing, or a
 * sender with the wrong secret, is seen here rather than vanishing.
 */
import type { IntakeUnitResult } from '../../store/intake-log.js';
import { ago, when } from './format.js';
import { html, type SafeHtml } from './html.js';
import type { IntakeEventLine, IntakeFilters, IntakeLog } from './model.js';

/** The query string of an intake filter set (empty values left out). */
export function intakeQuery(f: Partial<IntakeFilters>): string {
  const q = new URLSearchParams();
  if (f.source) q.set('source', f.source);
  if (f.limit && f.limit !== 50) q.set('limit', String(f.limit));
  if (f.cursor) q.set('after', f.cursor);
  const s = q.toString();
  return s ? `?${s}` : '';
}

type Tone = 'alert' | 'warn' | 'ok' | 'busy' | 'muted';

/** What a unit's result means, and its badge tone. */
const RESULT_WORDS: Record<IntakeUnitResult['result'], { text: string; tone: Tone }> = {
  created: { text: 'made a task', tone: 'ok' },
  deduplicated: { text: 'deduplicated: a task with its externalRef exists', tone: 'busy' },
  rejected: { text: 'rejected at intake (recorded as a rejected task)', tone: 'alert' },
  refused: { text: 'refused: no task made', tone: 'alert' },
  excluded: { text: 'excluded by the mapping: no task made', tone: 'warn' },
  cancelled: { text: 'resolved: its task was cancelled', tone: 'muted' },
  ignored: { text: 'resolved: nothing done', tone: 'muted' },
};

const OUTCOME_TONE: Record<IntakeEventLine['outcome'], Tone> = { processed: 'ok', unauthorized: 'alert', invalid: 'alert' };

const badge = (text: string, tone: Tone) => html`<span class="badge ${tone}">${text}</span>`;
const taskLink = (r: IntakeUnitResult) =>
  r.taskId ? html`<a href="/tasks/${encodeURIComponent(r.taskId)}" data-testid="intake-task">${r.externalRef ?? r.taskId}</a>${r.externalRef ? html`<div class="muted"><code>${r.taskId}</code></div>` : ''}` : r.externalRef ? html`<span class="muted">ref ${r.externalRef}</span>` : html`-`;

function unitRow(r: IntakeUnitResult): SafeHtml {
  const w = RESULT_WORDS[r.result] ?? { text: String(r.result), tone: 'muted' as const };
  return html`<tr data-testid="intake-unit" data-result="${r.result}">
  <td><code>${r.unit}</code></td>
  <td>${badge(r.result, w.tone)}<div class="muted">${w.text}</div></td>
  <td>${taskLink(r)}</td>
  <td data-testid="intake-reason">${r.reason ?? ''}</td>
</tr>`;
}

/** `2 created, 1 excluded`, in RESULT_WORDS' order (the stored counts keep an order of their own). */
function summaryOf(e: IntakeEventLine): string {
  const order = Object.keys(RESULT_WORDS);
  return Object.entries(e.summary)
    .sort(([a], [b]) => (order.indexOf(a) + 1 || order.length + 1) - (order.indexOf(b) + 1 || order.length + 1))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

function eventCard(e: IntakeEventLine, now: Date): SafeHtml {
  const counts = summaryOf(e);
  return html`<article class="card intake ${e.outcome === 'processed' ? '' : 'refused'}" data-testid="intake-event" data-event="${e.id}" data-outcome="${e.outcome}">
  <header>
    ${badge(e.outcome, OUTCOME_TONE[e.outcome] ?? 'muted')}
    <h3><a href="/intake${intakeQuery({ source: e.source })}">${e.source}</a> <span class="muted">${e.sourceType}</span></h3>
    <span class="age">received ${ago(e.receivedAt, now)}</span>
  </header>
  <dl class="facts">
    <div><dt>received</dt><dd>${when(e.receivedAt)}</dd></div>
    ${e.deliveryId ? html`<div><dt>delivery</dt><dd><code>${e.deliveryId}</code></dd></div>` : ''}
    <div><dt>request</dt><dd><code>${e.id}</code></dd></div>
    ${counts ? html`<div><dt>became</dt><dd>${counts}</dd></div>` : ''}
  </dl>
  ${e.error ? html`<p class="alert-text" data-testid="intake-error"><strong>Refused whole, no task made:</strong> ${e.error}</p>` : ''}
  ${
    e.results.length
      ? html`<table class="list"><thead><tr><th>unit</th><th>became</th><th>task</th><th>why</th></tr></thead><tbody>
${e.results.map(unitRow)}
</tbody></table>`
      : e.outcome === 'processed'
        ? html`<p class="muted">The request held nothing to map (no alerts in the group).</p>`
        : ''
  }
</article>`;
}

const option = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;

/** The intake page body. */
export function renderIntake(log: IntakeLog, f: IntakeFilters, now: Date): SafeHtml {
  const known = log.sources.some((s) => s.name === f.source);
  // A source removed from the config still has its history: it stays selectable while filtered on.
  const options = [...log.sources.map((s) => option(s.name, `${s.name} (${s.type})`, f.source === s.name)), ...(f.source && !known ? [option(f.source, f.source, true)] : [])];
  return html`<h1>Intake${f.source ? html`: ${f.source}` : ''}</h1>
<p class="lead">What the intake sources received, newest first, and what each request became. An event the mapping excludes shows as <em>excluded</em>, a sender without the right credential as <em>unauthorized</em>. The same log: <code>runwarden intake log${f.source ? ` --source ${f.source}` : ''}</code>.</p>
<form method="get" action="/intake" class="filters" data-testid="intake-filters">
  <label>Source <select name="source">${option('', 'any', !f.source)}${options}</select></label>
  <label>Show <input name="limit" type="number" min="1" max="500" value="${f.limit}"></label>
  <button>Filter</button> <a href="/intake">clear</a>
</form>
${f.source && !known ? html`<p class="flash warn">${f.source} is not a configured source${log.sources.length ? ` (configured: ${log.sources.map((s) => s.name).join(', ')})` : ''}; what it received before is listed.</p>` : ''}
${!log.sources.length ? html`<p class="muted">No intake source is configured (<code>intake.sources</code> in runwarden.yaml); tasks come in through <code>runwarden submit</code> and <code>POST /v1/tasks</code>.</p>` : ''}
<div data-live="intake">
${
  log.events.length
    ? html`${log.events.map((e) => eventCard(e, now))}
<p class="pager">${f.cursor ? html`<a href="/intake${intakeQuery({ ...f, cursor: undefined })}">Newest</a> · ` : ''}${
        log.nextCursor ? html`<a href="/intake${intakeQuery({ ...f, cursor: log.nextCursor })}" data-testid="next-page">Older requests</a>` : html`<span class="muted">No older requests.</span>`
      }</p>`
    : html`<p class="muted">No requests recorded${f.source ? ` for ${f.source}` : ''}${f.cursor ? ' before these' : ''}.</p>`
}
</div>`;
}

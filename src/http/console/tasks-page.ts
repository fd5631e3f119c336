/**
 * Tasks by state: a filter form that is a plain GET (so every filter is in the URL, to share or
 * bookmark), counts by state as links, and the matching tasks newest first, each saying what it
 * waits for when it waits for something (a concurrency key's holders, another role's work).
 */
import { TASK_STATES, type TaskState } from '../../lifecycle/vocabulary.js';
import { ago, stateBadge, STATE_WORDS, waitingFor } from './format.js';
import { html, type SafeHtml } from './html.js';
import type { TaskFilters, TaskListRow } from './model.js';

/** The query string of a filter set (empty values left out). */
export function filterQuery(f: Partial<TaskFilters>): string {
  const q = new URLSearchParams();
  if (f.state) q.set('state', f.state);
  if (f.runbook) q.set('runbook', f.runbook);
  if (f.taskClass) q.set('class', f.taskClass);
  if (f.limit && f.limit !== 50) q.set('limit', String(f.limit));
  if (f.cursor) q.set('after', f.cursor);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const option = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;

export function renderTasks(tasks: TaskListRow[], f: TaskFilters, counts: Partial<Record<TaskState, number>>, runbookIds: string[], now: Date, nextCursor: string | null = null): SafeHtml {
  const chips = TASK_STATES.filter((s) => counts[s]).map(
    (s) => html`<a class="chip${f.state === s ? ' on' : ''}" href="/tasks${filterQuery({ ...f, state: s, cursor: undefined })}">${stateBadge(s)} ${counts[s]}</a>`,
  );
  return html`<h1>Tasks${f.state ? html`: ${f.state.replace(/_/g, ' ')}` : ''}</h1>
<form method="get" action="/tasks" class="filters" data-testid="filters">
  <label>State <select name="state">${option('', 'any', !f.state)}${TASK_STATES.map((s) => option(s, `${s.replace(/_/g, ' ')} (${counts[s] ?? 0})`, f.state === s))}</select></label>
  <label>Runbook <select name="runbook">${option('', 'any', !f.runbook)}${runbookIds.map((r) => option(r, r, f.runbook === r))}</select></label>
  <label>Task class <input name="class" value="${f.taskClass ?? ''}" placeholder="any"></label>
  <label>Show <input name="limit" type="number" min="1" max="500" value="${f.limit}"></label>
  <button>Filter</button> <a href="/tasks">clear</a>
</form>
<p class="chips">${chips}</p>
<div data-live="tasks">
${
  tasks.length
    ? html`<table class="list" data-testid="task-list"><thead><tr><th>task</th><th>state</th><th>class</th><th>runbook</th><th>step</th><th>retries</th><th>updated</th></tr></thead><tbody>
${tasks.map(
  (t) => {
  // A few holders a row: a long queue on one key would repeat the same list on every row.
  const waiting = waitingFor(t, 3);
  return html`<tr>
  <td><a href="/tasks/${encodeURIComponent(t.id)}">${t.externalRef ?? t.id}</a>${t.externalRef ? html`<div class="muted"><code>${t.id}</code></div>` : ''}</td>
  <td>${stateBadge(t.state)}<div class="muted">${STATE_WORDS[t.state]}</div>${waiting ? html`<div class="waiting" data-testid="waiting-for">waiting for ${waiting}</div>` : ''}</td>
  <td>${t.taskClass}</td>
  <td>${t.runbook ? `${t.runbook.id} v${t.runbook.version}` : '-'}</td>
  <td>${t.currentStep ?? '-'}</td>
  <td>${t.retryBudget.used}/${t.retryBudget.limit}</td>
  <td>${ago(t.updatedAt, now)}</td>
</tr>`;
},
)}
</tbody></table><p class="pager">${f.cursor ? html`<a href="/tasks${filterQuery({ ...f, cursor: undefined })}">Newest</a> · ` : ''}${nextCursor ? html`<a href="/tasks${filterQuery({ ...f, cursor: nextCursor })}" data-testid="next-page">Older tasks</a>` : html`<span class="muted">No older tasks.</span>`}</p>`
    : html`<p class="muted">No task matches these filters.</p>`
}
</div>`;
}

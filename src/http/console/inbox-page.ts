/**
 * The console's first page: what waits for a person. Escalated tasks first (newest first), each
 * with why it stopped, the recommended action and a link that opens it; then the tasks someone
 * has taken over; then the approvals waiting, in a list of their own.
 */
import { ago, reasonTitle } from './format.js';
import { html, type SafeHtml } from './html.js';
import type { Inbox, InboxItem } from './model.js';

const taskHref = (id: string) => `/tasks/${encodeURIComponent(id)}`;

function runbookOf(item: InboxItem): string {
  const r = item.task.runbook;
  return r ? `${r.id} v${r.version}` : 'runbook not known';
}

function card(item: InboxItem, now: Date): SafeHtml {
  const t = item.task;
  const ref = t.externalRef ?? t.id;
  const reason = item.reason;
  const rec = item.recommended;
  return html`<article class="card ${item.severity ?? ''}" data-testid="inbox-item" data-task="${t.id}">
  <header>
    ${item.severity ? html`<span class="sev ${item.severity}">${item.severity}</span>` : ''}
    <h3><a href="${taskHref(t.id)}">${reason ? reasonTitle(reason.kind) : 'Stopped'}: ${ref}</a></h3>
    <span class="age">waiting ${ago(item.since, now)}</span>
  </header>
  ${item.summary ? html`<p class="summary">${item.summary}</p>` : reason ? html`<p class="summary">${reason.message}</p>` : ''}
  <dl class="facts">
    <div><dt>step</dt><dd>${reason?.step ?? t.currentStep ?? '-'}${reason?.failureClass ? html` <span class="muted">(${reason.failureClass})</span>` : ''}</dd></div>
    <div><dt>runbook</dt><dd>${runbookOf(item)}</dd></div>
    <div><dt>route</dt><dd>${item.route ?? '-'}</dd></div>
    <div><dt>task</dt><dd><code>${t.id}</code> · ${t.taskClass}</dd></div>
    ${item.takenOverBy ? html`<div><dt>taken by</dt><dd>${item.takenOverBy}</dd></div>` : ''}
  </dl>
  <p class="rec">${
    rec?.action
      ? html`Recommended: <strong class="action">${rec.action}</strong> — ${rec.why}`
      : rec
        ? html`${rec.why}`
        : 'No packet: open the task to see where it stands.'
  }</p>
  <p><a class="button primary" href="${taskHref(t.id)}">Open ${ref}</a></p>
</article>`;
}

function approvalRow(item: InboxItem, now: Date): SafeHtml {
  const t = item.task;
  return html`<tr data-testid="approval-item">
  <td><a href="${taskHref(t.id)}">${t.externalRef ?? t.id}</a><div class="muted"><code>${t.id}</code></div></td>
  <td>${t.currentStep ?? '-'}</td>
  <td>${runbookOf(item)}</td>
  <td>${item.route ?? '-'}</td>
  <td>${item.summary ?? item.reason?.message ?? ''}</td>
  <td>${ago(item.since, now)}</td>
</tr>`;
}

/** The inbox body. */
export function renderInbox(inbox: Inbox, now: Date): SafeHtml {
  const n = inbox.escalated.length;
  const headline = n
    ? html`<h1>${n} task${n === 1 ? '' : 's'} need${n === 1 ? 's' : ''} you</h1><p class="lead">Stopped by automation, newest first. Open one, read why it stopped, then act.</p>`
    : html`<h1>Nothing is waiting for you</h1><p class="lead">No escalated task. Automation is handling everything it was given.</p>`;
  return html`<div data-live="inbox">
${headline}
<section aria-labelledby="h-escalated">
  <h2 id="h-escalated" class="sr">Escalated</h2>
  ${inbox.escalated.map((i) => card(i, now))}
</section>
${
  inbox.inHand.length
    ? html`<section aria-labelledby="h-inhand"><h2 id="h-inhand">Taken over (${inbox.inHand.length})</h2>
  <p class="lead">Paused while a person works on them: resume, skip, complete or fail each when done.</p>
  ${inbox.inHand.map((i) => card(i, now))}</section>`
    : ''
}
<section aria-labelledby="h-approvals">
  <h2 id="h-approvals">Approvals waiting (${inbox.approvals.length})</h2>
  ${
    inbox.approvals.length
      ? html`<table class="list"><thead><tr><th>task</th><th>step</th><th>runbook</th><th>route</th><th>asks</th><th>waiting</th></tr></thead>
  <tbody>${inbox.approvals.map((i) => approvalRow(i, now))}</tbody></table>`
      : html`<p class="muted">No approval is waiting.</p>`
  }
</section>
</div>`;
}

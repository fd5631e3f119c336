/**
 * The runbooks page: each loaded runbook with its version, task classes, route and steps (what
 * each does, whether it changes something and how safe it is to repeat), and each file that
 * does not load with its problems, as `runwarden validate` prints them.
 */
import type { CompiledRunbook } from '../../runbook/plan.js';
import { html, type SafeHtml } from './html.js';
import type { BrokenRunbook, RunbookLine, StepInfo } from './model.js';

/** What the pages need of a compiled step. */
export function stepInfo(rb: Pick<CompiledRunbook, 'steps'>): StepInfo[] {
  return rb.steps.map((s) => ({ id: s.id, title: s.title ?? null, action: s.spec.action, changes: s.changes, repeat: s.repeat, hasProbe: Boolean(s.probe) }));
}

export function runbookLine(rb: CompiledRunbook): RunbookLine {
  return { id: rb.id, version: rb.version, title: rb.title, owner: rb.owner, file: rb.file, hash: rb.hash, taskClasses: rb.taskClasses, route: rb.escalation.route, steps: stepInfo(rb) };
}

const REPEAT_WORDS: Record<string, string> = {
  safe: 'safe to repeat',
  keyed: 'repeated with its idempotency key (no second effect)',
  once: 'once: a repeat could apply the effect twice',
};

function runbook(r: RunbookLine): SafeHtml {
  return html`<article class="card" id="rb-${r.id}" data-testid="runbook">
  <header><h3>${r.title} <span class="muted">${r.id} v${r.version}</span></h3></header>
  <dl class="facts">
    <div><dt>task classes</dt><dd>${r.taskClasses.join(', ')}</dd></div>
    <div><dt>owner</dt><dd>${r.owner}</dd></div>
    <div><dt>route</dt><dd>${r.route}</dd></div>
    <div><dt>file</dt><dd><code>${r.file}</code></dd></div>
    <div><dt>version hash</dt><dd><code>${r.hash.slice(0, 12)}</code></dd></div>
  </dl>
  <table class="list"><thead><tr><th>#</th><th>step</th><th>action</th><th>changes</th><th>repeat safety</th></tr></thead><tbody>
  ${r.steps.map(
    (s, i) => html`<tr><td>${i + 1}</td><td><strong>${s.id}</strong>${s.title ? html`<div class="muted">${s.title}</div>` : ''}</td><td>${s.action}</td><td>${s.changes ? 'yes' : 'no'}</td>
    <td><span class="badge ${s.repeat === 'once' ? 'warn' : 'muted'}">${s.repeat}</span> ${REPEAT_WORDS[s.repeat] ?? ''}${s.repeat === 'once' ? (s.hasProbe ? ' (a probe checks first)' : ' (no probe)') : ''}</td></tr>`,
  )}
  </tbody></table>
</article>`;
}

function broken(b: BrokenRunbook): SafeHtml {
  return html`<article class="card critical" data-testid="broken-runbook">
  <header><h3>${b.id ?? b.file} <span class="badge alert">does not load</span></h3></header>
  <p>Tasks of ${b.taskClasses.length ? b.taskClasses.join(', ') : 'its task classes'} are rejected at intake until it is fixed. Check it with <code>runwarden validate ${b.file}</code>.</p>
  <ul class="problems">${b.problems.map((p) => html`<li><code>${p.file ?? b.file}${p.line ? `:${p.line}:${p.col ?? 1}` : ''}</code> ${p.path ? html`<strong>${p.path}</strong>: ` : ''}${p.message}</li>`)}</ul>
</article>`;
}

export function renderRunbooks(lines: RunbookLine[], problems: BrokenRunbook[]): SafeHtml {
  return html`<h1>Runbooks</h1>
${problems.length ? html`<section><h2>Not loaded (${problems.length})</h2>${problems.map(broken)}</section>` : ''}
<section><h2>Loaded (${lines.length})</h2>${lines.length ? lines.map(runbook) : html`<p class="muted">No runbook is loaded.</p>`}</section>`;
}

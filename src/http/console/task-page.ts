/**
 * A task's page, in the order a responder needs it: where the task stands and why it stopped,
 * what to do (the action forms, the recommended one first), then the packet for people (what
 * changed where, what was tried, the evidence), the steps with their attempts and captures, the
 * input (masked) and the ledger as a timeline.
 */
import type { Packet, PacketEvidence, PacketSideEffect } from '../../escalation/packet-schema.js';
import { isOneOf, TERMINAL_STATES } from '../../lifecycle/vocabulary.js';
import { renderActionForms } from './action-forms.js';
import { ago, compact, duration, eventSentence, eventTone, reasonTitle, stateBadge, STATE_WORDS, waitingFor, when } from './format.js';
import { html, type SafeHtml } from './html.js';
import { canAct, type AttemptLine, type TaskPage, type Viewer } from './model.js';

const pre = (v: unknown) => html`<pre>${JSON.stringify(v, null, 2)}</pre>`;
const inline = (v: unknown, max = 200) => html`<code>${compact(v, max)}</code>`;

function progress(p: TaskPage): SafeHtml {
  const byId = new Map(p.view.steps.map((s) => [s.id, s]));
  const ids = p.plan.length ? p.plan.map((s) => s.id) : p.view.steps.map((s) => s.id);
  if (!ids.length) return html``;
  const at = p.view.currentStep;
  return html`<ol class="progress" aria-label="steps">${ids.map((id) => {
    const status = byId.get(id)?.status ?? 'pending';
    return html`<li class="st-${status}${id === at ? ' current' : ''}" title="${status.replace(/_/g, ' ')}"><span>${id}</span><small>${status.replace(/_/g, ' ')}</small></li>`;
  })}</ol>`;
}

function standing(p: TaskPage, now: Date): SafeHtml {
  const v = p.view;
  const idx = v.currentStep ? p.plan.findIndex((s) => s.id === v.currentStep) : -1;
  const finished = isOneOf(TERMINAL_STATES, v.state);
  const waiting = waitingFor(v);
  const where = v.currentStep ? `at step ${v.currentStep}${idx >= 0 ? ` (${idx + 1} of ${p.plan.length})` : ''}` : finished ? 'nothing left to run' : 'no current step';
  return html`<header class="task-head">
  <h1>${v.externalRef ?? v.id} ${stateBadge(v.state)}</h1>
  <p class="lead" data-testid="task-standing"><strong>${STATE_WORDS[v.state]}</strong>, ${where}. Updated ${ago(v.updatedAt, now)}.</p>
  <dl class="facts">
    <div><dt>task</dt><dd><code>${v.id}</code></dd></div>
    <div><dt>class</dt><dd>${v.taskClass}</dd></div>
    <div><dt>runbook</dt><dd>${v.runbook ? html`<a href="/runbooks#rb-${v.runbook.id}">${v.runbook.id}</a> v${v.runbook.version}` : '-'}</dd></div>
    <div><dt>retries</dt><dd>${v.retryBudget.used} of ${v.retryBudget.limit} used</dd></div>
    ${v.requestedBy ? html`<div><dt>requested by</dt><dd>${v.requestedBy}</dd></div>` : ''}
    ${v.deadlineAt ? html`<div><dt>deadline</dt><dd>${when(v.deadlineAt)}</dd></div>` : ''}
    ${v.nextAttemptAt ? html`<div><dt>next try</dt><dd>${when(v.nextAttemptAt)}</dd></div>` : ''}
    ${v.leaseOwner ? html`<div><dt>held by</dt><dd>${v.leaseOwner}</dd></div>` : ''}
    ${waiting ? html`<div><dt>waiting for</dt><dd data-testid="waiting-for">${waiting}</dd></div>` : ''}
    ${v.cancelRequested ? html`<div><dt>cancel</dt><dd>requested: the worker stops at its next checkpoint</dd></div>` : ''}
  </dl>
  ${progress(p)}
</header>`;
}

function why(p: TaskPage, now: Date): SafeHtml {
  const e = p.view.escalation;
  const pk = p.packet;
  if (p.view.state !== 'escalated' && p.view.state !== 'in_handover' && p.view.state !== 'awaiting_approval') return html``;
  if (!e && !pk) return html``;
  const kind = pk && !p.packetNow ? pk.reason.kind : e?.kind ?? pk?.reason.kind ?? '';
  const message = pk && !p.packetNow ? pk.reason.message : e?.message ?? '';
  const rec = pk && !p.packetNow ? pk.recommendation : null;
  return html`<section class="alert" role="alert" data-testid="why">
  <h2>${reasonTitle(kind)}${e?.step ? html` at <code>${e.step}</code>` : ''}${e?.failureClass ? html` <span class="muted">(${e.failureClass})</span>` : ''}</h2>
  ${pk ? html`<p class="summary">${pk.summary}</p>` : ''}
  <blockquote>${message}</blockquote>
  ${
    rec
      ? html`<p class="rec">Recommended: <strong class="action">${rec.action ?? 'nothing'}</strong> — ${rec.why}</p>${rec.ownerNote ? html`<p>Runbook owner says: ${rec.ownerNote}</p>` : ''}${
          rec.advice ? html`<p class="muted">Wording by the model ${rec.advice.model}: ${rec.advice.text}</p>` : ''
        }`
      : ''
  }
  ${pk && !p.packetNow ? outside(pk) : ''}
  ${e?.at ? html`<p class="muted">Stopped ${ago(e.at, now)}.</p>` : ''}
</section>`;
}

/** One line on what changed outside: what decides whether running a step again is safe. */
function outside(pk: Packet): SafeHtml {
  if (!pk.sideEffects.length) return html`<p data-testid="outside"><strong>Outside changes:</strong> none recorded.</p>`;
  const doubt = pk.sideEffects.filter((s) => s.effect === 'maybe' || s.effect === 'undo_failed');
  return html`<p data-testid="outside"><strong>Outside changes:</strong> ${pk.sideEffects.map((s) => `${s.step} ${EFFECT_WORDS[s.effect]}`).join('; ')}.${doubt.length ? html` <strong class="alert-text">Check ${doubt.map((s) => s.step).join(', ')} in its system before running it again.</strong>` : ''}</p>`;
}

const EFFECT_WORDS: Record<PacketSideEffect['effect'], string> = { applied: 'done', maybe: 'maybe done (outcome unknown)', undone: 'undone', undo_failed: 'done, undo failed' };

function evidenceItem(e: PacketEvidence): SafeHtml {
  switch (e.kind) {
    case 'verification':
      return html`<li>Check <strong>${e.check}</strong>${e.step ? ` on ${e.step}` : ''} ${e.passed ? 'passed' : html`<strong>did not pass</strong>`} (${e.polls} run${e.polls === 1 ? '' : 's'}): expected ${inline(e.expected)}, observed ${inline(e.observed)}${e.error ? html` · ${inline(e.error, 300)}` : ''}</li>`;
    case 'probe':
      return html`<li>Probe${e.step ? ` of ${e.step}` : ''}: <strong>${e.verdict}</strong> · observed ${inline(e.observed)}${e.error ? html` · ${inline(e.error, 300)}` : ''}</li>`;
    case 'error':
      return html`<li>${e.step} ${e.attemptKind} #${e.attempt}: ${e.error ? inline(e.error, 300) : 'no outcome recorded'}${e.observed !== null ? html` · answer ${inline(e.observed)}` : ''}</li>`;
    case 'guard':
      return html`<li>Guard denied${e.step ? ` ${e.step}` : ''}: ${e.denied.join(', ') || 'unnamed'}</li>`;
  }
}

/** The packet for people: the same parts as `packet --format md`, as HTML. */
export function renderPacket(pk: Packet, p: Pick<TaskPage, 'packetNow'>): SafeHtml {
  const now = p.packetNow;
  const body = packetBody(pk, p);
  // A packet the task has moved on from is history: folded, so its "Next" is not read as advice now.
  return now
    ? html`<details class="packet" data-testid="packet"><summary>Escalation packet from ${when(pk.createdAt)} (${reasonTitle(pk.reason.kind)}; the task has moved on)</summary>${body}</details>`
    : html`<section class="packet" data-testid="packet"><h2>Escalation packet</h2>${body}</section>`;
}

function packetBody(pk: Packet, p: Pick<TaskPage, 'packetNow'>): SafeHtml {
  const now = p.packetNow;
  return html`
  ${
    now
      ? html`<p class="flash warn">The task has moved on: it is <strong>${now.state.replace(/_/g, ' ')}</strong> now${now.since ? ` since ${when(now.since)}` : ''}, by ${now.by}${now.action ? ` after ${now.action.name} by ${now.action.operator} (“${now.action.reason}”)` : ''}. This packet is from ${when(pk.createdAt)}, when it was ${pk.state.replace(/_/g, ' ')}.</p>`
      : ''
  }
  <p><span class="sev ${pk.severity}">${pk.severity}</span> route <strong>${pk.route}</strong> · written ${when(pk.createdAt)} · <code>${pk.packetId}</code></p>
  <h3>What changed</h3>
  ${
    pk.sideEffects.length
      ? html`<ul>${pk.sideEffects.map(
          (s) => html`<li><strong>${s.step}</strong> in ${s.system ? html`<code>${s.system}</code>` : 'an external system'}: ${s.effect === 'maybe' || s.effect === 'undo_failed' ? html`<strong class="alert-text">${EFFECT_WORDS[s.effect]}</strong>` : EFFECT_WORDS[s.effect]}${
            Object.keys(s.ids).length ? html` · ${Object.entries(s.ids).map(([k, v]) => html`${k} ${inline(v)} `)}` : ''
          } · repeat ${s.repeat}</li>`,
        )}</ul>`
      : html`<p>Nothing outside has changed.</p>`
  }
  <h3>What was tried</h3>
  ${
    pk.attempts.length
      ? html`${pk.attemptsOmitted ? html`<p class="muted">${pk.attemptsOmitted} earlier attempt(s) left out.</p>` : ''}<ul>${pk.attempts.map(
          (a) => html`<li><strong>${a.step}</strong> ${a.kind} #${a.attempt} · ${when(a.startedAt)}${a.durationMs !== null ? ` · ${duration(a.durationMs)}` : ''} · ${a.outcome ?? 'no outcome recorded'}${a.failureClass ? ` (${a.failureClass})` : ''}${a.error ? html` · ${inline(a.error, 160)}` : ''}</li>`,
        )}</ul>`
      : html`<p>No attempts were recorded.</p>`
  }
  <h3>Evidence</h3>
  ${pk.evidence.length ? html`<ul>${pk.evidence.map(evidenceItem)}</ul>` : html`<p>None recorded beyond the attempts.</p>`}
  ${
    pk.agent
      ? html`<h3>Agent</h3><p>${pk.agent.model ?? 'The model'} proposed <code>${pk.agent.option}</code>${pk.agent.confidence !== null ? ` (confidence ${pk.agent.confidence})` : ''}: ${pk.agent.accepted ? 'accepted' : html`<strong>refused</strong>${pk.agent.why ? `: ${pk.agent.why}` : ''}`}</p>${pk.agent.rationale ? html`<p>Its rationale: ${pk.agent.rationale}</p>` : ''}`
      : ''
  }
  <h3>Next</h3>
  <p>${pk.recommendation.action ? html`<strong>${pk.recommendation.action}</strong>: ` : ''}${pk.recommendation.why}</p>
  ${pk.recommendation.commands.length ? html`<p class="muted">From a shell:</p>${pk.recommendation.commands.map((c) => html`<pre class="cmd">${c}</pre>`)}` : ''}
  <p class="muted">Allowed when it was written: ${pk.allowedActions.join(', ') || 'nothing'}.</p>`;
}

function attemptsOf(step: string, all: AttemptLine[]): SafeHtml {
  const mine = all.filter((a) => a.step === step);
  if (!mine.length) return html``;
  return html`<ul class="attempts">${mine.map(
    (a) => html`<li class="${a.outcome === 'succeeded' ? 'ok' : a.outcome ? 'alert' : 'plain'}">${a.kind} #${a.attempt} · ${when(a.startedAt)}${a.durationMs !== null ? ` · ${duration(a.durationMs)}` : ''} · ${a.outcome ?? 'no outcome recorded'}${a.failureClass ? ` (${a.failureClass})` : ''}${a.error ? html` · <code>${compact(a.error, 200)}</code>` : ''}</li>`,
  )}</ul>`;
}

function steps(p: TaskPage): SafeHtml {
  const info = new Map(p.plan.map((s) => [s.id, s]));
  if (!p.view.steps.length) return html`<p class="muted">No step has run yet.</p>`;
  return html`<table class="list steps" data-testid="steps"><thead><tr><th>step</th><th>status</th><th>attempts</th><th>captures</th></tr></thead><tbody>
${p.view.steps.map((s) => {
  const i = info.get(s.id);
  return html`<tr class="${s.id === p.view.currentStep ? 'current' : ''}">
  <td><strong>${s.id}</strong>${i ? html`<div class="muted">${i.title ?? i.action}${i.changes ? ` · changes, repeat ${i.repeat}` : ''}</div>` : ''}</td>
  <td>${stateBadge(s.status)}${s.note ? html`<div class="muted">${s.note}</div>` : ''}</td>
  <td>${s.attempts}${attemptsOf(s.id, p.attempts)}</td>
  <td>${Object.keys(s.captures).length ? html`<dl class="kv">${Object.entries(s.captures).map(([k, v]) => html`<dt>${k}</dt><dd><code>${compact(v, 120)}</code></dd>`)}</dl>` : ''}</td>
</tr>`;
})}
</tbody></table>`;
}

function timeline(p: TaskPage): SafeHtml {
  return html`<ol class="timeline" data-testid="timeline">${p.view.events.map(
    (e) => html`<li class="${eventTone(e)}"><time datetime="${e.at}">${when(e.at)}</time> <span class="who">${e.actor}</span>
  <span class="what">${eventSentence(e)}</span>${Object.keys(e.data).length ? html`<details><summary>data</summary>${pre(e.data)}</details>` : ''}</li>`,
  )}</ol>`;
}

/** The task page body. */
export function renderTaskPage(p: TaskPage, viewer: Viewer, now: Date): SafeHtml {
  const v = p.view;
  const act = canAct(viewer.role)
    ? renderActionForms(p, viewer.csrf)
    : html`<p class="muted" data-testid="read-only">You are signed in as a viewer: you can read this task; acting on it needs an operator token.</p>`;
  return html`<div data-live="task">${standing(p, now)}
${why(p, now)}
</div>
<section class="act" aria-labelledby="h-act"><h2 id="h-act">What you can do</h2>${act}</section>
${p.packet ? renderPacket(p.packet, p) : ''}
<section><h2>Steps</h2>${steps(p)}</section>
<section><h2>Input</h2><p class="muted">Inputs the runbook marks sensitive are shown as ***.</p>${pre(v.input)}
${v.callback && canAct(viewer.role) ? html`<p>Callback: ${v.callback.waiting ? html`waiting until ${when(v.callback.timeoutAt)}` : 'token issued'}; deliver it with <code>POST /v1/callbacks/${v.callback.token}</code></p>` : ''}
</section>
<section><h2>Ledger</h2>${timeline(p)}</section>`;
}

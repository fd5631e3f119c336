/**
 * Words and small pieces the console pages share: ages, times, state badges, and the ledger's
 * events as sentences a person reads at a glance (the raw data stays one click away).
 */
import { REASON_TITLES } from '../../escalation/render-markdown.js';
import { ESCALATION_REASONS, isOneOf, type TaskState } from '../../lifecycle/vocabulary.js';
import type { EventView } from '../../store/task-view.js';
import { html, type SafeHtml } from './html.js';
import type { WaitFacts } from './model.js';

/** `3 min`, `2 h 5 min`, `4 d 3 h`: how long ago `iso` was at `now`. */
export function age(iso: string | null | undefined, now: Date): string {
  if (!iso) return '-';
  const ms = now.getTime() - Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  return duration(Math.max(0, ms));
}

/** A duration in ms as a person says it: `850 ms`, `12 s`, `3 min`, `2 h 5 min`, `4 d 3 h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `2026-11-23 18:00:01 UTC`. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** A <time> element: the age in words, the exact time as its title. */
export function ago(iso: string | null | undefined, now: Date): SafeHtml {
  if (!iso) return html`-`;
  return html`<time datetime="${iso}" title="${when(iso)}">${age(iso, now)} ago</time>`;
}

/** What each state means for the person reading: who has the task now. */
export const STATE_WORDS: Record<TaskState, string> = {
  queued: 'queued for a worker',
  running: 'a worker is running it',
  retry_scheduled: 'waiting to retry',
  waiting_callback: 'waiting for a callback',
  awaiting_approval: 'waiting for an approval',
  compensating: 'rolling back',
  escalated: 'stopped: needs a person',
  in_handover: 'taken over by a person',
  completed: 'completed',
  partially_completed: 'partly completed',
  rolled_back: 'rolled back',
  cancelled: 'cancelled',
  failed: 'failed',
  rejected: 'rejected at intake',
};

/** The badge colour family of a state. */
export function stateTone(state: string): 'alert' | 'warn' | 'ok' | 'busy' | 'muted' {
  if (state === 'escalated' || state === 'failed') return 'alert';
  if (state === 'awaiting_approval' || state === 'in_handover' || state === 'partially_completed') return 'warn';
  if (state === 'completed') return 'ok';
  if (state === 'rolled_back' || state === 'cancelled' || state === 'rejected') return 'muted';
  return 'busy';
}

export function stateBadge(state: string): SafeHtml {
  return html`<span class="badge ${stateTone(state)}">${state.replace(/_/g, ' ')}</span>`;
}

/** The headline words of an escalation reason (`retries_exhausted` -> `Retries exhausted`). */
export function reasonTitle(kind: string): string {
  return isOneOf(ESCALATION_REASONS, kind) ? REASON_TITLES[kind] : kind.replace(/_/g, ' ');
}

/** Compact JSON for a table cell, cut at `max` characters. */
export function compact(value: unknown, max = 160): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** One ledger event as a sentence (the data in full is shown beside it on demand). */
export function eventSentence(e: EventView): string {
  const d = e.data;
  switch (e.type) {
    case 'intake.accepted':
      return 'Accepted at intake';
    case 'intake.rejected':
      return `Rejected at intake${d.kind ? `: ${str(d.kind).replace(/_/g, ' ')}` : ''}`;
    case 'state.changed':
      return `State ${str(d.from).replace(/_/g, ' ')} → ${str(d.to).replace(/_/g, ' ')}`;
    case 'lease.acquired':
      return 'A worker took the task';
    case 'lease.released':
      return `The worker handed the task back${d.why ? ` (${str(d.why)})` : ''}`;
    case 'step.started':
      return `Step ${e.step ?? ''} started`;
    case 'step.skipped':
      return `Step ${e.step ?? ''} skipped (${str(d.reason)})`;
    case 'step.succeeded':
      return `Step ${e.step ?? ''} succeeded`;
    case 'step.failed':
      return `Step ${e.step ?? ''} failed${d.failureClass ? ` (${str(d.failureClass)})` : ''}: ${str(d.message)}`;
    case 'attempt.started':
      return `Attempt ${str(d.attempt)} of ${e.step ?? ''} started (${str(d.kind)})`;
    case 'attempt.finished':
      return `Attempt ${str(d.attempt)} of ${e.step ?? ''} ${str(d.outcome)}${d.failureClass ? ` (${str(d.failureClass)})` : ''}${d.error ? `: ${str(d.error)}` : ''}`;
    case 'attempt.in_doubt':
      return `Attempt ${str(d.attempt)} of ${e.step ?? ''} in doubt: it may have taken effect`;
    case 'verification.result':
      return `Check ${str(d.check)} ${d.passed ? 'passed' : 'did not pass'}`;
    case 'probe.result':
      return `Probe: effect ${str(d.verdict)}`;
    case 'retry.scheduled':
      return `Retry scheduled${d.failureClass ? ` after ${str(d.failureClass)}` : ''}${d.at ? ` for ${when(str(d.at))}` : ''}`;
    case 'escalated':
      return `Escalated: ${reasonTitle(str(d.kind))}${d.message ? ` — ${str(d.message)}` : ''}`;
    case 'approval.requested':
      return `Approval requested${d.route ? ` from ${str(d.route)}` : ''}`;
    case 'approval.decided':
      return `Approval ${d.granted ? 'granted' : 'denied'} by ${str(d.by)}`;
    case 'callback.waiting':
      return `Waiting for a callback until ${when(str(d.timeoutAt))}`;
    case 'callback.received':
      return 'Callback received';
    case 'callback.timeout':
      return 'Callback timed out';
    case 'compensation.started':
      return `Rollback started${Array.isArray(d.steps) ? `: ${d.steps.join(', ')}` : ''}`;
    case 'compensation.finished':
      return `Rollback ${e.step ? `of ${e.step} ` : ''}${d.ok ? 'done' : `failed: ${str(d.error)}`}`;
    case 'packet.emitted':
      return 'Escalation packet written';
    case 'packet.delivery':
      return `Packet delivery${d.sink ? ` to ${str(d.sink)}` : ''}${d.ok === false ? ' failed' : ''}`;
    case 'operator.action':
      return `${str(d.operator) || e.actor} chose ${str(d.action)}: “${str(d.reason)}”`;
    case 'agent.call':
      return `Model call${d.model ? ` (${str(d.model)})` : ''}${d.ok === false ? ' failed' : ''}`;
    case 'agent.proposal':
      return `Agent proposed ${str(d.option) || '(nothing)'}${d.accepted ? ', accepted' : ', not accepted'}`;
    case 'guard.checked':
      return `Guards checked${Array.isArray(d.denied) && d.denied.length ? `: denied by ${d.denied.join(', ')}` : ''}`;
    default:
      return e.type;
  }
}

/** The timeline tone of an event: what a reader's eye should catch. */
export function eventTone(e: EventView): 'alert' | 'ok' | 'person' | 'plain' {
  if (e.type === 'operator.action' || e.type === 'approval.decided') return 'person';
  if (e.type === 'escalated' || e.type === 'step.failed' || e.type === 'attempt.in_doubt' || (e.type === 'attempt.finished' && e.data.outcome !== 'succeeded')) return 'alert';
  if (e.type === 'step.succeeded' || (e.type === 'state.changed' && e.data.to === 'completed')) return 'ok';
  return 'plain';
}

/**
 * What a task waits for, in words, or null when it waits for nothing in particular: a queued
 * task held back by its concurrency key names the key, its limit and the tasks holding it (each a
 * link, at most `maxHolders` of them); a task between roles (running, no worker holding it)
 * names the role whose work is next. The same rule as `runwarden show`.
 */
export function waitingFor(v: WaitFacts, maxHolders = Number.POSITIVE_INFINITY): SafeHtml | null {
  const w = v.waitingFor;
  if (w) {
    const shown = w.holders.slice(0, maxHolders);
    const holders = shown.map((h, i) => html`${i ? ', ' : ''}<a href="/tasks/${encodeURIComponent(h.id)}" data-testid="holder">${h.id}</a> (${h.state.replace(/_/g, ' ')})`);
    const more = w.holders.length - shown.length;
    return html`concurrency key <code>${w.concurrencyKey}</code>: its limit of ${w.limit} is taken by ${holders}${more > 0 ? ` and ${more} more` : ''}`;
  }
  if (v.awaitingRole && v.state === 'running' && !v.leaseOwner) return html`${v.awaitingRole} work next: a worker serving ${v.awaitingRole} takes it up`;
  return null;
}

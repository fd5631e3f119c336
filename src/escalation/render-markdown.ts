/**
 * The packet as Markdown for people (`runwarden packet <task> --format md`), written to be read
 * on a phone at 3am: the summary first, then what changed where, what was tried, the evidence and
 * the next action with its command. No tables (they do not fit a narrow screen); lists, short
 * lines, commands in code blocks so they copy whole.
 */
import type { EscalationReason } from '../lifecycle/vocabulary.js';
import type { PacketNow } from './packet-now.js';
import type { Packet, PacketAttempt, PacketEvidence, PacketSideEffect } from './packet-schema.js';

/** Headline words per reason kind. */
export const REASON_TITLES: Record<EscalationReason, string> = {
  retries_exhausted: 'Retries exhausted',
  non_retryable: 'Failed, not retryable',
  verification_failed: 'Verification failed',
  ambiguous_state: 'Outcome unclear',
  off_policy: 'Stopped by policy',
  deadline_exceeded: 'Deadline exceeded',
  budget_exhausted: 'Retry budget exhausted',
  approval_required: 'Approval needed',
  callback_timeout: 'Callback timed out',
  compensation_failed: 'Rollback failed',
  partial_completion: 'Partly completed',
  silent_failure: 'Silent failure',
  confirm_after_retry: 'Confirm a success after retries',
};

/** Longest inline JSON shown for an observed value; the JSON form has it whole. */
const INLINE_JSON = 300;
/** Characters of an attempt's error in the list (the evidence has the whole of the last one). */
const ATTEMPT_ERROR = 100;
/** Characters of an error shown as evidence. */
const EVIDENCE_ERROR = 300;

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/** Attempts of one step and kind listed one by one; more are elided in the middle. */
const LISTED_ATTEMPTS = 4;

/**
 * Text with the Markdown characters that could format mid-line escaped, so an API's error cannot
 * restyle the page; `_` is left alone (intraword underscores never emphasise, and `not_found`
 * reads better than `not\_found` on a plain-text screen). Newlines become spaces.
 */
export function esc(text: string): string {
  return text.replace(/[\\`*[\]<]/g, (c) => `\\${c}`).replace(/\s*\n\s*/g, ' ');
}

/** Inline code with a fence longer than any backtick run inside. */
export function code(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${flat} ${fence}` : `${fence}${flat}${fence}`;
}

function json(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return code(s === undefined ? 'null' : s.length > INLINE_JSON ? `${s.slice(0, INLINE_JSON)}…` : s);
}

/** `2026-11-23 18:00 UTC`. */
function when(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC`;
}

/** `18:00:01`. */
function clock(isoTime: string): string {
  return isoTime.slice(11, 19);
}

function ms(n: number | null): string {
  if (n === null) return '';
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} s`;
}

function header(p: Packet): string[] {
  const ref = p.task.externalRef ?? p.task.id;
  const lines = [`# ${REASON_TITLES[p.reason.kind]}: ${esc(ref)}`, '', `**${esc(p.summary)}**`, ''];
  const step = p.reason.step ? `${esc(p.reason.step)}${p.reason.failureClass ? ` (${p.reason.failureClass})` : ''}` : null;
  lines.push(`- Severity **${p.severity}** · route ${esc(p.route)}`);
  lines.push(`- Task ${code(p.task.id)}${p.task.externalRef ? ` (${esc(p.task.externalRef)})` : ''} · ${p.state}`);
  if (step) lines.push(`- Step ${step}`);
  const input = Object.entries(p.task.input).map(([k, v]) => `${esc(k)} ${json(v)}`);
  if (input.length) lines.push(`- Input: ${input.join(', ')}`);
  lines.push(`- Retries ${p.retryBudget.used} of ${p.retryBudget.limit} used${p.deadline ? ` · deadline ${when(p.deadline)}` : ''}`);
  const pr = p.progress;
  const parts = [
    pr.done.length ? `done ${pr.done.map(esc).join(', ')}` : '',
    pr.current ? `at ${esc(pr.current)}` : '',
    pr.pending.length ? `to do ${pr.pending.map(esc).join(', ')}` : '',
    pr.skipped.length ? `skipped ${pr.skipped.map(esc).join(', ')}` : '',
    pr.failed.length ? `failed ${pr.failed.map(esc).join(', ')}` : '',
    pr.inDoubt.length ? `in doubt ${pr.inDoubt.map(esc).join(', ')}` : '',
    pr.compensated.length ? `undone ${pr.compensated.map(esc).join(', ')}` : '',
  ].filter(Boolean);
  if (parts.length) lines.push(`- Steps: ${parts.join(' · ')}`);
  lines.push('', `> ${esc(p.reason.message)}`);
  return lines;
}

function changed(p: Packet): string[] {
  const lines = ['', '## What changed'];
  if (!p.sideEffects.length) return [...lines, '', 'Nothing outside has changed.'];
  lines.push('');
  const words: Record<PacketSideEffect['effect'], string> = { applied: 'done', maybe: '**maybe done** (outcome unknown)', undone: 'undone', undo_failed: 'done, **undo failed**' };
  for (const s of p.sideEffects) {
    const ids = Object.entries(s.ids).map(([k, v]) => `${esc(k)} ${json(v)}`);
    lines.push(`- **${esc(s.step)}** in ${s.system ? code(s.system) : 'an external system'}: ${words[s.effect]}${s.status === 'failed' && s.effect === 'applied' ? ' (the step then failed)' : ''}${ids.length ? ` · ${ids.join(', ')}` : ''} · ${s.repeat}`);
  }
  return lines;
}

function attemptLine(a: PacketAttempt): string {
  const outcome = a.outcome === null ? 'no outcome recorded' : a.outcome === 'failed' ? `failed${a.failureClass ? ` (${a.failureClass})` : ''}` : a.outcome;
  const took = ms(a.durationMs);
  return `  - #${a.attempt} ${clock(a.startedAt)}${took ? ` · ${took}` : ''} · ${outcome}${a.error ? ` · ${code(clip(a.error, ATTEMPT_ERROR))}` : ''}`;
}

function tried(p: Packet): string[] {
  const lines = ['', '## What was tried'];
  if (!p.attempts.length) return [...lines, '', 'No attempts were recorded.'];
  lines.push('');
  if (p.attemptsOmitted) lines.push(`- (${p.attemptsOmitted} earlier attempt(s) left out)`);
  // Consecutive attempts of one step and kind form a group: a poll of 12 checks is one line.
  const groups: PacketAttempt[][] = [];
  for (const a of p.attempts) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.step === a.step && last[0]!.kind === a.kind) last.push(a);
    else groups.push([a]);
  }
  for (const g of groups) {
    const failed = g.filter((a) => a.outcome !== 'succeeded').length;
    const tally = g.length === 1 ? '' : failed === 0 ? 'all succeeded' : failed === g.length ? 'all failed' : `${failed} failed`;
    lines.push(`- **${esc(g[0]!.step)}** ${g[0]!.kind} ×${g.length}${tally ? ` · ${tally}` : ''}`);
    const shown = g.length <= LISTED_ATTEMPTS ? g : [g[0]!, ...g.slice(-2)];
    shown.forEach((a, k) => {
      if (g.length > LISTED_ATTEMPTS && k === 1) lines.push(`  - … ${g.length - 3} more`);
      lines.push(attemptLine(a));
    });
  }
  return lines;
}

function evidenceLine(e: PacketEvidence): string {
  switch (e.kind) {
    case 'verification':
      return `- Check **${esc(e.check)}**${e.step ? ` on ${esc(e.step)}` : ''} ${e.passed ? 'passed' : 'failed'} (${e.polls} run${e.polls === 1 ? '' : 's'}): expected ${code(e.expected)}, observed ${json(e.observed)}${e.error ? ` · ${code(clip(e.error, EVIDENCE_ERROR))}` : ''}`;
    case 'probe':
      return `- Probe${e.step ? ` of ${esc(e.step)}` : ''}: **${e.verdict}** · observed ${json(e.observed)}${e.error ? ` · ${code(clip(e.error, EVIDENCE_ERROR))}` : ''}`;
    case 'error':
      return `- ${esc(e.step)} ${e.attemptKind} #${e.attempt}: ${e.error ? code(clip(e.error, EVIDENCE_ERROR)) : 'no outcome recorded'}${e.observed !== null ? ` · answer ${json(e.observed)}` : ''}`;
    case 'guard':
      return `- Guard denied${e.step ? ` ${esc(e.step)}` : ''}: ${e.denied.map(esc).join(', ') || 'unnamed'}`;
  }
}

function evidence(p: Packet): string[] {
  const lines = ['', '## Evidence', ''];
  if (!p.evidence.length) return [...lines, 'None recorded beyond the attempts.'];
  return [...lines, ...p.evidence.map(evidenceLine)];
}

function agent(p: Packet): string[] {
  const a = p.agent;
  if (!a) return [];
  const conf = a.confidence === null ? '' : ` (confidence ${a.confidence})`;
  const verdict = a.accepted ? 'accepted' : `**refused**${a.why ? `: ${esc(a.why)}` : ''}`;
  const lines = ['', '## Agent', '', `- ${a.model ? code(a.model) : 'The model'} proposed ${code(a.option)}${conf} for ${esc(a.step ?? 'the task')}: ${verdict}`];
  if (a.rationale) lines.push(`- Its rationale: ${esc(a.rationale)}`);
  return lines;
}

/** Before everything, when the task has moved on since the packet: what it is now, and who moved it. */
function movedOn(p: Packet, now: PacketNow | undefined): string[] {
  if (!now) return [];
  const how = now.action ? `, after ${code(now.action.name)} by ${esc(now.action.operator)} (${esc(now.action.reason)})` : '';
  const since = now.since ? ` since ${when(now.since)}` : '';
  const allowed = now.allowed.length ? `Allowed now: ${now.allowed.join(', ')}.` : 'No action is allowed now: the task is closed.';
  return [
    `> **The task has moved on: it is ${now.state} now${since}, by ${esc(now.by)}${how}.** This packet is from ${when(p.createdAt)}, when it was ${p.state}. ${allowed}`,
    '',
  ];
}

function next(p: Packet, now: PacketNow | undefined): string[] {
  const r = p.recommendation;
  const lines = ['', '## Next', '', r.action ? `**${r.action}**: ${esc(r.why)}` : esc(r.why)];
  // Labelled as the model's, under the rule text it never replaces: a reader can weigh it.
  if (r.advice) lines.push('', `Suggested wording by the model ${code(r.advice.model)}: ${esc(r.advice.text)}`);
  if (r.ownerNote) lines.push('', `Runbook owner: ${esc(r.ownerNote)}`);
  for (const c of r.commands) lines.push('', '```sh', c, '```');
  const allowed = p.allowedActions.length ? p.allowedActions.join(', ') : '';
  if (now) lines.push('', `Allowed when this packet was written: ${allowed || 'nothing'} (see the top for now)`);
  else lines.push('', allowed ? `Allowed now: ${allowed}` : 'No action is allowed: the task is closed.');
  return lines;
}

function footer(p: Packet): string[] {
  const rb = p.runbook.id ? `${esc(p.runbook.id)}${p.runbook.version !== null ? ` v${p.runbook.version}` : ''}${p.runbook.owner ? ` (owner ${esc(p.runbook.owner)})` : ''}` : 'runbook not loaded';
  const lines = ['', '---', '', `Packet ${code(p.packetId)} · ${when(p.createdAt)} · ${rb}`];
  const links = Object.entries(p.links).map(([k, url]) => `[${esc(k)}](${url})`);
  if (links.length) lines.push('', links.join(' · '));
  return lines;
}

/**
 * The packet as Markdown, ending with a newline. With `now` (packet-now.ts), the task moved on
 * since the packet: it says so first, and the actions of the packet's time are labelled as such.
 */
export function renderPacketMarkdown(p: Packet, now?: PacketNow): string {
  return [...movedOn(p, now), ...header(p), ...changed(p), ...tried(p), ...evidence(p), ...agent(p), ...next(p, now), ...footer(p)].join('\n') + '\n';
}

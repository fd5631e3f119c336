/**
 * Human output for tasks: the `tasks` table, the `show` page and intake's rejection reasons.
 * Plain text (no colour), so it reads the same in a terminal, a pipe and a ticket comment.
 */
import type { Problem } from '../errors.js';
import type { EventView, TaskSummary, TaskView } from '../store/task-view.js';

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `2025-01-01 10:00:03Z`: to the second, UTC, one width. */
export function shortTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-';
}

function compact(value: unknown, max = 100): string {
  const s = JSON.stringify(value) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The `runwarden tasks` table; `no tasks` when empty. */
export function formatTaskTable(tasks: TaskSummary[]): string {
  if (!tasks.length) return 'no tasks';
  return table(
    ['ID', 'STATE', 'CLASS', 'REF', 'STEP', 'RETRIES', 'UPDATED'],
    tasks.map((t) => [
      t.id,
      t.state,
      t.taskClass,
      t.externalRef ?? '-',
      t.currentStep ?? '-',
      `${t.retryBudget.used}/${t.retryBudget.limit}`,
      shortTime(t.updatedAt),
    ]),
  );
}

/** Intake's refusal, as stored: `{ kind, problems }`. */
export function rejectionOf(view: Pick<TaskView, 'rejection'>): { kind: string; problems: Problem[] } | undefined {
  const r = view.rejection as { kind?: unknown; problems?: unknown } | null;
  if (!r || typeof r !== 'object') return undefined;
  return { kind: String(r.kind ?? 'rejected'), problems: Array.isArray(r.problems) ? (r.problems as Problem[]) : [] };
}

/** `state: rejected` and one line per reason, `path: message`. */
export function formatRejection(view: Pick<TaskView, 'rejection'>): string {
  const r = rejectionOf(view);
  if (!r) return 'state: rejected';
  const lines = [`state: rejected (${r.kind.replace(/_/g, ' ')})`];
  for (const p of r.problems) lines.push(`  ${p.path ? `${p.path}: ` : ''}${p.message}`);
  return lines.join('\n');
}

function eventSummary(e: EventView): string {
  if (e.type === 'state.changed') return `${String(e.data.from)} -> ${String(e.data.to)}`;
  return Object.keys(e.data).length ? compact(e.data) : '';
}

/** The `show` page: the task, its steps in runbook order, its context and its ledger. */
export function formatTask(v: TaskView): string {
  const out: string[] = [`${v.id}  ${v.state}`];
  const field = (name: string, value: string) => out.push(`  ${name.padEnd(14)}${value}`);
  field('class', v.taskClass);
  if (v.externalRef) field('ref', v.externalRef);
  if (v.requestedBy) field('requested by', v.requestedBy);
  field('runbook', v.runbook ? `${v.runbook.id} v${v.runbook.version}${v.runbook.hash ? ` (${v.runbook.hash.slice(0, 12)})` : ''}` : '-');
  field('step', v.currentStep ?? '-');
  field('retries', `${v.retryBudget.used} of ${v.retryBudget.limit} used`);
  if (v.deadlineAt) field('deadline', shortTime(v.deadlineAt));
  if (v.nextAttemptAt) field('next try', shortTime(v.nextAttemptAt));
  if (v.leaseOwner) field('held by', v.leaseOwner);
  else if (v.awaitingRole && v.state === 'running') field('next work', `${v.awaitingRole} (a worker serving ${v.awaitingRole} takes it up)`);
  if (v.waitingFor) {
    const holders = v.waitingFor.holders.map((h) => `${h.id} (${h.state})`).join(', ');
    field('waiting for', `concurrency key ${v.waitingFor.concurrencyKey}: ${v.waitingFor.holders.length} of ${v.waitingFor.limit} running: ${holders}`);
  }
  if (v.cancelRequested) field('cancel', 'requested; the worker stops at its next checkpoint');
  if (v.callback?.waiting) field('callback', `waiting until ${shortTime(v.callback.timeoutAt ?? '')}: runwarden callback ${v.callback.token} --data '{...}'`);
  else if (v.callback) field('callback', `token ${v.callback.token} (for the task's wait step)`);
  if (v.escalation) field('escalated', `${v.escalation.kind}${v.escalation.step ? ` at ${v.escalation.step}` : ''}: ${v.escalation.message}`);
  field('created', shortTime(v.createdAt));
  field('updated', shortTime(v.updatedAt));
  if (v.state === 'rejected') out.push('', formatRejection(v));

  out.push('', 'input', `  ${compact(v.input, 2000)}`);
  if (v.steps.length) {
    out.push('', 'steps');
    const rows = v.steps.map((s) => [s.id, s.status, `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`, Object.keys(s.captures).length ? compact(s.captures) : '', s.note ?? '']);
    out.push(...table(['STEP', 'STATUS', 'ATTEMPTS', 'CAPTURES', 'NOTE'], rows).split('\n').map((l) => `  ${l}`));
  }
  out.push('', 'ledger');
  const rows = v.events.map((e) => [String(e.seq), shortTime(e.at), e.type, e.step ?? '-', e.actor, eventSummary(e)]);
  out.push(...table(['SEQ', 'AT', 'EVENT', 'STEP', 'ACTOR', 'DATA'], rows).split('\n').map((l) => `  ${l}`));
  return out.join('\n');
}

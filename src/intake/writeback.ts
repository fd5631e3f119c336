/**
 * Write-back: the system a task came from hears how it went. When a source-made task escalates,
 * and when it ends (completed, partially completed, rolled back, cancelled, failed, rejected), a
 * row goes into the write-back outbox in the transaction that changed the task; the deliverer
 * sends it with retries and records each attempt in the task's ledger (`writeback.delivery`).
 * Each row is one HTTP request, so a retry never repeats a request that already landed:
 *
 * - jira: a comment on the issue (REST v3, Atlassian document format); on completion, the
 *   configured transition as a row of its own.
 * - pagerduty: a note on the incident; on completion with `resolve: true`, the incident resolved.
 * - github: a comment on the issue.
 * - webhook: the outcome as JSON, signed per Standard Webhooks.
 *
 * The text is the packet's summary and its recommended action (on escalation), or the end state,
 * with the link to the task in the console.
 */
import type { DeploymentConfig } from '../config/index.js';
import type { ResolvedIntakeSource } from '../config/intake-sources.js';
import { defaultBackoffMs, DEFAULT_MAX_DELIVERY_ATTEMPTS } from '../escalation/outbox-delivery.js';
import { SEND_TIMEOUT_MS } from '../escalation/sink-send.js';
import { webhookHeaders } from '../escalation/webhook-signature.js';
import { CLOSED_STATES, isOneOf, type OperatorAction, type TaskState } from '../lifecycle/vocabulary.js';
import { silentLogger, type Logger } from '../log.js';
import type { Masker } from '../secrets/mask.js';
import type { CheckpointHooks } from '../store/checkpoints.js';
import type { Db } from '../store/db.js';
import { claimWriteback, enqueueWriteback, recordWriteback, taskOrigin, type WritebackKind, type WritebackRow } from '../store/intake-log.js';
import { latestPacket } from '../store/packets.js';
import { applyChange, type TaskRow } from '../store/tasks.js';

export interface WritebackContext {
  config: DeploymentConfig;
  /** Base URL of the console, for the link. */
  publicUrl?: string;
}

/** What a write-back says, whatever the target. */
export interface OutcomeBody {
  action: 'comment' | 'transition' | 'note' | 'resolve' | 'post';
  taskId: string;
  externalRef: string | null;
  state: TaskState;
  kind: WritebackKind;
  text: string;
  summary: string;
  recommendation: { action: string | null; why: string } | null;
  link: string | null;
  target: Record<string, unknown>;
}

function linkOf(ctx: WritebackContext, taskId: string, packetLinks?: Record<string, string>): string | null {
  return packetLinks?.task ?? (ctx.publicUrl ? `${ctx.publicUrl.replace(/\/+$/, '')}/tasks/${taskId}` : null);
}

function rejectionText(task: TaskRow): string {
  const r = task.rejection as { kind?: string; problems?: Array<{ path: string; message: string }> } | null;
  return r ? `${r.kind ?? 'rejected'}: ${(r.problems ?? []).map((p) => `${p.path}: ${p.message}`).join('; ')}` : 'rejected';
}

/** The actions a source type takes for an outcome, in order. */
function actionsFor(source: ResolvedIntakeSource, kind: WritebackKind, state: TaskState): OutcomeBody['action'][] {
  const done = kind === 'ended' && state === 'completed';
  switch (source.type) {
    case 'jira':
      return done && source.writeBack?.transition ? ['comment', 'transition'] : ['comment'];
    case 'pagerduty':
      return done && source.writeBack?.resolve ? ['note', 'resolve'] : ['note'];
    case 'github':
      return ['comment'];
    case 'webhook':
      return ['post'];
    case 'alertmanager':
      return [];
  }
}

/**
 * Queues the write-back of `task`'s escalation or end, in `tx`, when it came from a source with
 * `writeBack`. Keyed by the task's ledger position, so a change is told once.
 */
export async function enqueueOutcome(tx: Db, ctx: WritebackContext, task: TaskRow, kind: WritebackKind): Promise<number> {
  const origin = await taskOrigin(tx, task.id);
  const source = origin ? ctx.config.intakeSources[origin.source] : undefined;
  if (!origin || !source?.writeBack) return 0;
  const packet = kind === 'escalated' || task.state === 'partially_completed' ? await latestPacket(tx, task.id) : undefined;
  const body = packet?.body as { summary?: string; recommendation?: { action: string | null; why: string }; links?: Record<string, string> } | undefined;
  const what = task.runbookId ?? task.taskClass;
  const summary =
    body?.summary ??
    (task.state === 'rejected' ? `${what} refused at intake: ${rejectionText(task)}` : `${what}${task.externalRef ? ` for ${task.externalRef}` : ''} ended ${task.state}`);
  const recommendation = kind === 'escalated' && body?.recommendation ? { action: body.recommendation.action, why: body.recommendation.why } : null;
  const link = linkOf(ctx, task.id, body?.links);
  const head = kind === 'escalated' ? `runwarden task ${task.id} escalated` : `runwarden task ${task.id} ended ${task.state}`;
  const text = [head, summary, recommendation ? `Recommended: ${recommendation.action ?? 'none'} (${recommendation.why})` : '', link ?? ''].filter(Boolean).join('\n');
  let added = 0;
  for (const action of actionsFor(source, kind, task.state)) {
    const b: OutcomeBody = { action, taskId: task.id, externalRef: task.externalRef, state: task.state, kind, text, summary, recommendation, link, target: origin.target };
    if (await enqueueWriteback(tx, { taskId: task.id, source: source.name, kind, key: `${task.id}:${task.eventSeq}:${action}`, body: b as unknown as Record<string, unknown> }, task.updatedAt)) added += 1;
  }
  return added;
}

/** The checkpoint and operator-action hooks that queue write-backs (compose after the escalation hooks). */
export function writebackHooks(ctx: WritebackContext): { hooks: CheckpointHooks; onAction: (tx: Db, task: TaskRow, action: OperatorAction, before: TaskState) => Promise<void> } {
  return {
    hooks: {
      async onStop(tx, task) {
        if (task.state === 'escalated') await enqueueOutcome(tx, ctx, task, 'escalated');
        else if (task.state === 'partially_completed') await enqueueOutcome(tx, ctx, task, 'ended');
      },
      async onFinish(tx, task) {
        await enqueueOutcome(tx, ctx, task, 'ended');
      },
    },
    async onAction(tx, task, _action, before) {
      if (task.state === 'escalated' && before !== 'escalated') await enqueueOutcome(tx, ctx, task, 'escalated');
      else if (isOneOf(CLOSED_STATES, task.state) && before !== task.state) await enqueueOutcome(tx, ctx, task, 'ended');
    },
  };
}

export interface HttpSpec {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: string;
}

const trim = (u: string) => u.replace(/\/+$/, '');

/** The request a row sends, or why it cannot be made (a missing target is no use retrying). */
export function writebackRequest(source: ResolvedIntakeSource, row: Pick<WritebackRow, 'key' | 'body'>, now: Date): HttpSpec | { error: string } {
  const b = row.body as unknown as OutcomeBody;
  const w = source.writeBack;
  if (!w) return { error: `source ${source.name} has no writeBack` };
  const json = { 'content-type': 'application/json', accept: 'application/json' };
  switch (source.type) {
    case 'jira': {
      const key = b.target.issueKey;
      if (typeof key !== 'string') return { error: 'the Jira payload named no issue key' };
      const headers = { ...json, authorization: `Basic ${Buffer.from(`${w.user}:${w.token}`).toString('base64')}` };
      const base = `${trim(w.url!)}/rest/api/3/issue/${encodeURIComponent(key)}`;
      if (b.action === 'transition') return { method: 'POST', url: `${base}/transitions`, headers, body: JSON.stringify({ transition: { id: w.transition } }) };
      const content = b.text.split('\n').map((line) => ({ type: 'paragraph', content: [{ type: 'text', text: line }] }));
      return { method: 'POST', url: `${base}/comment`, headers, body: JSON.stringify({ body: { type: 'doc', version: 1, content } }) };
    }
    case 'pagerduty': {
      const id = b.target.incidentId;
      if (typeof id !== 'string') return { error: 'the PagerDuty payload named no incident id' };
      const headers = { ...json, accept: 'application/vnd.pagerduty+json;version=2', authorization: `Token token=${w.token}`, from: w.from! };
      const base = `${trim(w.url ?? 'https://api.pagerduty.com')}/incidents/${encodeURIComponent(id)}`;
      if (b.action === 'resolve') return { method: 'PUT', url: base, headers, body: JSON.stringify({ incident: { type: 'incident_reference', status: 'resolved' } }) };
      return { method: 'POST', url: `${base}/notes`, headers, body: JSON.stringify({ note: { content: b.text } }) };
    }
    case 'github': {
      const repo = b.target.repository;
      const issue = b.target.issue;
      if (typeof repo !== 'string' || typeof issue !== 'string') return { error: 'the GitHub payload named no repository and issue' };
      return {
        method: 'POST',
        url: `${trim(w.url ?? 'https://api.github.com')}/repos/${repo}/issues/${issue}/comments`,
        headers: { ...json, accept: 'application/vnd.github+json', authorization: `Bearer ${w.token}`, 'x-github-api-version': '2022-11-28', 'user-agent': 'runwarden' },
        body: JSON.stringify({ body: b.text }),
      };
    }
    case 'webhook': {
      const body = JSON.stringify({
        type: `task.${b.kind}`,
        timestamp: now.toISOString(),
        data: { taskId: b.taskId, externalRef: b.externalRef, state: b.state, summary: b.summary, recommendation: b.recommendation, link: b.link },
      });
      const id = `wb_${row.key.replace(/[^A-Za-z0-9_]/g, '_')}`;
      return { method: 'POST', url: w.url!, headers: { 'content-type': 'application/json', ...webhookHeaders({ id, timestamp: Math.floor(now.getTime() / 1000), body, secret: w.secret! }) }, body };
    }
    case 'alertmanager':
      return { error: 'Alertmanager takes no write-back' };
  }
}

export interface WritebackDeliverOptions {
  db: Db;
  config: DeploymentConfig;
  masker: Masker;
  now?: () => Date;
  fetch?: typeof fetch;
  logger?: Logger;
  /** Default 100. */
  limit?: number;
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
}

/** Delivers every due write-back once (up to `limit`), one claim per row. */
export async function deliverWritebacks(o: WritebackDeliverOptions): Promise<{ delivered: number; retrying: number; dead: number }> {
  const stats = { delivered: 0, retrying: 0, dead: 0 };
  const clock = o.now ?? (() => new Date());
  const doFetch = o.fetch ?? fetch;
  for (let n = 0; n < (o.limit ?? 100); n++) {
    const row = await claimWriteback(o.db, { now: clock(), leaseMs: 3 * SEND_TIMEOUT_MS });
    if (!row) break;
    const source = o.config.intakeSources[row.source];
    const spec = source ? writebackRequest(source, row, clock()) : { error: `source ${row.source} is not in the deployment config` };
    let ok = false;
    let retryable = false;
    let status: number | null = null;
    let error: string | null = null;
    if ('error' in spec) error = spec.error;
    else {
      try {
        const res = await doFetch(spec.url, { method: spec.method, headers: spec.headers, body: spec.body, signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
        status = res.status;
        const text = await res.text().catch(() => '');
        ok = res.ok;
        retryable = !ok && (status === 408 || status === 409 || status === 425 || status === 429 || status >= 500);
        if (!ok) error = `HTTP ${status}${text ? `: ${text.slice(0, 300)}` : ''}`;
      } catch (err) {
        retryable = true;
        const e = err as Error & { cause?: { code?: string } };
        error = `cannot reach ${row.source}: ${e.cause?.code ?? e.message}`;
      }
    }
    const now = clock();
    const state = ok ? 'delivered' : retryable && row.attempts < (o.maxAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS) ? 'pending' : 'dead';
    const nextAttemptAt = state === 'pending' ? new Date(now.getTime() + (o.backoffMs ?? defaultBackoffMs)(row.attempts)) : undefined;
    const masked = error === null ? null : o.masker.maskString(error);
    const mine = await o.db.transaction(async (tx) => {
      if (!(await recordWriteback(tx, { id: row.id, attempt: row.attempts, now, state, error: masked, ...(nextAttemptAt ? { nextAttemptAt } : {}) }))) return false;
      await applyChange(tx, {
        taskId: row.taskId,
        now,
        events: [
          {
            type: 'writeback.delivery',
            step: null,
            actor: 'outbox',
            data: {
              source: row.source,
              kind: row.kind,
              action: (row.body as { action?: string }).action ?? null,
              attempt: row.attempts,
              ok,
              status,
              ...(masked ? { error: masked } : {}),
              ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}),
              ...(state === 'dead' ? { gaveUp: true } : {}),
            },
          },
        ],
      });
      return true;
    });
    const log = (o.logger ?? silentLogger).child({ taskId: row.taskId, source: row.source, attempt: row.attempts });
    if (!mine) log.warn('write-back outcome not recorded: another deliverer took the row over');
    else if (state === 'delivered') stats.delivered += 1;
    else if (state === 'pending') {
      stats.retrying += 1;
      log.warn({ err: masked, nextAttemptAt }, 'write-back failed; will retry');
    } else {
      stats.dead += 1;
      log.error({ err: masked }, 'write-back given up');
    }
  }
  return stats;
}

/**
 * The escalation hooks with the write-back hooks after them (the packet is written first, so the
 * write-back quotes it): what a worker, `serve` and the operator commands all run.
 */
export function withWritebacks<T extends { hooks: CheckpointHooks; onAction: (tx: Db, task: TaskRow, action: OperatorAction, before: TaskState) => Promise<void> }>(esc: T, ctx: WritebackContext): T {
  const wb = writebackHooks(ctx);
  return {
    ...esc,
    hooks: {
      ...esc.hooks,
      async onStop(tx, task, commit, now) {
        await esc.hooks.onStop?.(tx, task, commit, now);
        await wb.hooks.onStop?.(tx, task, commit, now);
      },
      async onFinish(tx, task, now) {
        await esc.hooks.onFinish?.(tx, task, now);
        await wb.hooks.onFinish?.(tx, task, now);
      },
    },
    async onAction(tx, task, action, before) {
      await esc.onAction(tx, task, action, before);
      await wb.onAction(tx, task, action, before);
    },
  };
}

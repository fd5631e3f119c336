/** The `http` action: calls a system (or a URL) and returns `status`, `headers`, `body`. */
import type { HttpWith } from '../runbook/plan.js';
import { parseRetryAfter, type RawOutcome } from '../orchestrator/outcome.js';
import { DEFAULT_TIMEOUT_MS, deadlineSignal, type ExecuteContext } from './executor.js';
import { trackSend, type SendTracker } from './http-sent.js';
import { renderRecord, renderString, renderTree } from './render.js';
import { runIdHeaders } from './run-id.js';

/** Largest response body read, in bytes; the rest is cut (a runbook reads ids and statuses). */
export const MAX_BODY_BYTES = 1_000_000;

export async function runHttp(w: HttpWith, ctx: ExecuteContext): Promise<RawOutcome> {
  const system = w.system ? ctx.runbook.systems[w.system] : undefined;
  if (w.system && !system) return { kind: 'error', message: `unknown system ${w.system}`, failureClass: 'internal' };
  let url: URL;
  let headers: Record<string, string>;
  let body: string | undefined;
  try {
    const base = system ? renderString(system.baseUrl, ctx.expr) : '';
    const target = w.url ? renderString(w.url, ctx.expr) : `${base.replace(/\/+$/, '')}${w.path ? renderString(w.path, ctx.expr) : ''}`;
    url = new URL(target);
    for (const [k, v] of Object.entries(renderRecord(w.query, ctx.expr))) url.searchParams.set(k, v);
    headers = { ...(system ? renderRecord(system.headers, ctx.expr) : {}), ...renderRecord(w.headers, ctx.expr) };
    if (ctx.attempt.idempotencyKey) headers['Idempotency-Key'] = ctx.attempt.idempotencyKey;
    // Last, so a runbook cannot send another task's id under it.
    Object.assign(headers, runIdHeaders(ctx.expr.task.id));
    if (w.body !== undefined) {
      body = JSON.stringify(renderTree(w.body, ctx.expr));
      headers['Content-Type'] ??= 'application/json';
    }
  } catch (err) {
    return { kind: 'error', message: `request could not be built: ${(err as Error).message}`, failureClass: 'internal' };
  }
  headers.Accept ??= 'application/json';

  const ms = ctx.timeoutMs ?? system?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `${w.method} ${url.origin}${url.pathname}`;
  // The step's time runs from when the request is written (see http-sent.ts). Until then the
  // same time bounds the wait to send it; a request not written by then never went out.
  let finished = false;
  const dl = deadlineSignal(ctx.signal, ms, { deferStart: true, done: () => finished });
  const tracker: SendTracker = { tracked: false, sent: false, onSent: () => dl.start() };
  const unsent = deadlineSignal(ctx.signal, ms, { done: () => tracker.sent || finished });
  const signal = AbortSignal.any([dl.signal, unsent.signal]);
  // Without undici's report (another fetch), nothing says the request did not go out.
  const mayHaveGone = () => tracker.sent || !tracker.tracked;
  try {
    const result = await trackSend(tracker, async () => {
      const res = await fetch(url, { method: w.method, headers, ...(body !== undefined ? { body } : {}), signal });
      const text = await readCapped(res);
      return { res, text };
    });
    finished = true;
    const { res, text } = result;
    const resHeaders: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      resHeaders[k] = v;
    });
    let parsed: unknown = text;
    if (text.length > 0 && /json/i.test(res.headers.get('content-type') ?? '')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    } else if (text.length === 0) {
      parsed = null;
    }
    const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after'), new Date()) : undefined;
    return { kind: 'result', result: { status: res.status, headers: resHeaders, body: parsed }, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  } catch (err) {
    if (dl.timedOut()) {
      return { kind: 'error', code: 'TIMEOUT', message: `${where} timed out after ${ms}ms`, maybeApplied: true };
    }
    if (unsent.timedOut()) {
      // Never written: not applied, so even a `once` step may simply be tried again.
      return { kind: 'error', code: 'TIMEOUT', message: `${where} could not be sent within ${ms}ms (no connection)`, maybeApplied: mayHaveGone() };
    }
    if (ctx.signal.aborted) {
      return { kind: 'error', code: 'ABORTED', message: `${where} aborted: the worker stopped`, maybeApplied: mayHaveGone(), failureClass: 'transient' };
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    // A request that was never written never reached the other side; once written, it may have.
    const maybeApplied = tracker.tracked ? tracker.sent : code !== 'ECONNREFUSED';
    return {
      kind: 'error',
      ...(code ? { code } : {}),
      message: `${where}: ${cause?.message ?? (err as Error).message}${code ? ` (${code})` : ''}`,
      maybeApplied,
    };
  } finally {
    unsent.dispose();
    dl.dispose();
  }
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      break;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

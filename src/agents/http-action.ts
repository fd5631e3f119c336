/** The `http` action: calls a system (or a URL) and returns `status`, `headers`, `body`. */
import type { HttpWith } from '../runbook/plan.js';
import { parseRetryAfter, type RawOutcome } from '../orchestrator/outcome.js';
import { DEFAULT_TIMEOUT_MS, deadlineSignal, type ExecuteContext } from './executor.js';
import { renderRecord, renderString, renderTree } from './render.js';

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
    if (w.body !== undefined) {
      body = JSON.stringify(renderTree(w.body, ctx.expr));
      headers['Content-Type'] ??= 'application/json';
    }
  } catch (err) {
    return { kind: 'error', message: `request could not be built: ${(err as Error).message}`, failureClass: 'internal' };
  }
  headers.Accept ??= 'application/json';

  const ms = ctx.timeoutMs ?? system?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dl = deadlineSignal(ctx.signal, ms);
  let sent = false;
  try {
    const res = await fetch(url, { method: w.method, headers, ...(body !== undefined ? { body } : {}), signal: dl.signal });
    sent = true;
    const text = await readCapped(res);
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
      return { kind: 'error', code: 'TIMEOUT', message: `${w.method} ${url.origin}${url.pathname} timed out after ${ms}ms`, maybeApplied: true };
    }
    if (ctx.signal.aborted) {
      return { kind: 'error', code: 'ABORTED', message: `${w.method} ${url.origin}${url.pathname} aborted: the worker stopped`, maybeApplied: true, failureClass: 'transient' };
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    // A refused connection never reached the other side; anything later may have.
    const maybeApplied = sent || code !== 'ECONNREFUSED';
    return {
      kind: 'error',
      ...(code ? { code } : {}),
      message: `${w.method} ${url.origin}${url.pathname}: ${cause?.message ?? (err as Error).message}${code ? ` (${code})` : ''}`,
      maybeApplied,
    };
  } finally {
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

/**
 * Sending one delivery to one sink and saying how it went: delivered, worth retrying (the sink is
 * down, slow or rate-limiting), or refused for good (the request itself is wrong: retrying sends
 * the same bytes). The caller masks the error text: an API may echo our credentials in it.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ResolvedSink } from '../config/index.js';
import { parseRetryAfter } from '../orchestrator/outcome.js';
import { fileLine, pagerdutyRequest, slackRequest, webhookRequest, type Delivery, type HttpRequestSpec } from './sink-payloads.js';

/** Time limit of one HTTP delivery. */
export const SEND_TIMEOUT_MS = 10_000;
/** Characters of an error answer kept. */
const ERROR_BODY_CHARS = 300;

export type SendResult =
  | { ok: true; status: number | null; skipped?: 'duplicate' }
  | { ok: false; retryable: boolean; status: number | null; error: string; retryAfterMs?: number };

export interface SendOptions {
  now: Date;
  /** Default: the global fetch (which msw intercepts in tests). */
  fetch?: typeof fetch;
  /** Default SEND_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** Statuses worth another try: timeouts, conflicts of the moment, rate limits, server errors. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

async function post(req: HttpRequestSpec, opts: SendOptions): Promise<SendResult> {
  const doFetch = opts.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? SEND_TIMEOUT_MS),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs ?? SEND_TIMEOUT_MS} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { ok: false, retryable: true, status: null, error: `cannot reach the sink: ${why}` };
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return { ok: true, status: res.status };
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), opts.now);
  return {
    ok: false,
    retryable: retryableStatus(res.status),
    status: res.status,
    error: `HTTP ${res.status}${text ? `: ${text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text}` : ''}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

/**
 * Appends the packet as one JSON line, unless the file already holds it: a deliverer that died
 * after writing and before recording comes back to a line that is there, and leaves it single.
 */
async function appendLine(path: string, d: Delivery): Promise<SendResult> {
  try {
    const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    if (existing.includes(`"packetId":${JSON.stringify(d.packet.packetId)}`)) return { ok: true, status: null, skipped: 'duplicate' };
    await mkdir(dirname(path), { recursive: true });
    await appendFile(path, fileLine(d), 'utf8');
    return { ok: true, status: null };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A full disk or a permission fixed by hand: worth another try, not a lost packet.
    return { ok: false, retryable: true, status: null, error: `cannot write ${path}: ${e.code ?? e.message}` };
  }
}

/** Sends `d` to `sink`. Never throws. */
export async function sendToSink(sink: ResolvedSink, d: Delivery, opts: SendOptions): Promise<SendResult> {
  switch (sink.type) {
    case 'file':
      return appendLine(sink.path, d);
    case 'webhook':
      return post(webhookRequest(sink, d, opts.now), opts);
    case 'pagerduty':
      return post(pagerdutyRequest(sink, d), opts);
    case 'slack':
      return post(slackRequest(sink, d), opts);
  }
}

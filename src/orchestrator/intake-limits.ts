/**
 * Intake limits: how large and how deeply nested a task request may be before anything of it is
 * stored (runwarden.yaml `intake:`, defaults 256 KiB and 32 levels). Such a request is refused
 * with REQUEST_TOO_LARGE rather than stored as `rejected`: what is wrong with it is its bulk, and
 * a row per oversized request would let one misbehaving client fill the database. Nothing of the
 * request is quoted back either.
 *
 * Depth is measured without recursion, so a request nested a million deep costs a loop, not a
 * stack overflow; the size is measured only once the depth is known to be sane (JSON.stringify
 * recurses).
 */
import type { IntakeLimits } from '../config/deployment-config.js';
import { RunwardenError } from '../errors.js';

/** `262144` bytes as `256 KiB`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`;
  return `${n} bytes`;
}

function tooLarge(what: string, details: Record<string, unknown>): RunwardenError {
  return new RunwardenError('REQUEST_TOO_LARGE', what, { details });
}

/** The refusal of a request text of `bytes` (`atLeast`: reading stopped there). */
export function requestTooLarge(bytes: number, limits: IntakeLimits, source = 'the task request', atLeast = false): RunwardenError {
  return tooLarge(
    `${source} is ${atLeast ? 'over ' : ''}${formatBytes(bytes)}; the limit is ${formatBytes(limits.maxRequestBytes)} (intake.maxRequestSize in runwarden.yaml)`,
    { limit: 'maxRequestSize', maxBytes: limits.maxRequestBytes, bytes },
  );
}

/** Refuses request text larger than the limit, before it is parsed. */
export function checkRequestTextSize(text: string, limits: IntakeLimits, source = 'the task request'): void {
  // Characters first: a UTF-16 unit is at most 3 bytes of UTF-8, so a short text needs no count.
  if (text.length <= limits.maxRequestBytes / 3) return;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxRequestBytes) throw requestTooLarge(bytes, limits, source);
}

/**
 * Reads a stream as UTF-8 text, refusing it as soon as it passes the limit: an endless or huge
 * stdin costs at most the limit in memory.
 */
export async function readCapped(stream: AsyncIterable<Buffer | string>, limits: IntakeLimits, source = 'the task request'): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (total > limits.maxRequestBytes) throw requestTooLarge(limits.maxRequestBytes, limits, source, true);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The path of the first value nested deeper than `max` levels (the value itself is level 1), or
 * undefined when there is none. Iterative: safe on any depth.
 */
export function tooDeepAt(value: unknown, max: number): string | undefined {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: value, depth: 1, path: '' }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return path || '(request)';
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v).map(([k, x]) => [`.${k}`, x]);
    for (const [k, x] of entries) stack.push({ v: x, depth: depth + 1, path: `${path}${k}`.replace(/^\./, '') });
  }
  return undefined;
}

/** Cuts a long path for a message: the first few segments, then how deep it goes. */
function shortPath(path: string): string {
  const parts = path.split(/(?=[.[])/);
  return parts.length <= 6 ? path : `${parts.slice(0, 5).join('')}… (${parts.length} levels)`;
}

/** Refuses a parsed request that is nested deeper, or is larger as JSON, than the limits. */
export function checkRequestLimits(request: unknown, limits: IntakeLimits): void {
  const deep = tooDeepAt(request, limits.maxDepth);
  if (deep !== undefined) {
    throw tooLarge(
      `the task request is nested deeper than ${limits.maxDepth} levels (at ${shortPath(deep)}); the limit is intake.maxDepth in runwarden.yaml`,
      { limit: 'maxDepth', maxDepth: limits.maxDepth },
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(request) ?? '', 'utf8');
  if (bytes > limits.maxRequestBytes) {
    throw tooLarge(
      `the task request is ${formatBytes(bytes)} as JSON; the limit is ${formatBytes(limits.maxRequestBytes)} (intake.maxRequestSize in runwarden.yaml)`,
      { limit: 'maxRequestSize', maxBytes: limits.maxRequestBytes, bytes },
    );
  }
}

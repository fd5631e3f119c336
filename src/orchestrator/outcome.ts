/**
 * What an action attempt produced, before and after classification. Executors (src/agents)
 * report a raw outcome; the orchestrator classifies it with the step's `classify` rules first,
 * then the defaults of runbook-format.md ("Failure classes").
 */
import type { FailureClass } from '../lifecycle/vocabulary.js';
import type { CompiledStep, ExprContext } from '../runbook/plan.js';

/** An HTTP action's result, as CEL sees it. */
export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** An exec action's result, as CEL sees it. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * What an executor returns. `result` when the other side answered (whatever the status);
 * `error` when there is no answer to look at: refused, reset, timed out, aborted, or refused by
 * policy before anything was sent.
 */
export type RawOutcome =
  | { kind: 'result'; result: unknown; retryAfterMs?: number }
  | {
      kind: 'error';
      message: string;
      /** Node errno or our own: ECONNREFUSED, ECONNRESET, TIMEOUT, ABORTED, OFF_POLICY, ... */
      code?: string;
      /** The executor already knows the class (a policy refusal, a bad plugin `with`). */
      failureClass?: FailureClass;
      /** True when the request may have reached the other side (the effect may have happened). */
      maybeApplied?: boolean;
      /** A model call that failed: which model and how long it took, for the `agent.call` event. */
      agent?: { model: string; latencyMs?: number };
    };

export type Classified =
  | { ok: true; result: unknown }
  | {
      ok: false;
      failureClass: FailureClass;
      message: string;
      result?: unknown;
      retryAfterMs?: number;
      /** The effect may have happened: a `once` step must probe before any replay. */
      maybeApplied: boolean;
    };

const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Default class of an HTTP status that is an error (runbook-format.md table). */
export function httpStatusClass(status: number): FailureClass | null {
  if (status < 400) return null;
  if (TRANSIENT_STATUS.has(status) || status >= 500) return 'transient';
  if (status === 401 || status === 403) return 'permission';
  if (status === 400 || status === 422) return 'invalid_input';
  return 'business';
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isHttpResult(r: unknown): r is HttpResult {
  return typeof r === 'object' && r !== null && typeof (r as HttpResult).status === 'number' && 'body' in r;
}

function isExecResult(r: unknown): r is ExecResult {
  return typeof r === 'object' && r !== null && typeof (r as ExecResult).exitCode === 'number';
}

/** A short description of a result for the ledger and packets. */
export function describeResult(result: unknown): string {
  if (isHttpResult(result)) {
    const body = typeof result.body === 'string' ? result.body : JSON.stringify(result.body ?? null);
    return `HTTP ${result.status} ${trim(body, 300)}`;
  }
  if (isExecResult(result)) return `exit ${result.exitCode} ${trim(result.stderr || result.stdout, 300)}`;
  return trim(JSON.stringify(result ?? null), 300);
}

export function trim(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/**
 * Classifies an outcome. The step's `classify` rules run first (first match wins) and see every
 * answered result, even a 2xx; an error a rule cannot evaluate is `internal`, never ignored.
 */
export function classify(step: CompiledStep, raw: RawOutcome, ctx: ExprContext): Classified {
  if (raw.kind === 'error') {
    const failureClass: FailureClass =
      raw.failureClass ??
      (raw.code === 'TIMEOUT' ? 'timeout' : raw.code && TRANSIENT_CODES.has(raw.code) ? 'transient' : 'internal');
    return {
      ok: false,
      failureClass,
      message: raw.message,
      maybeApplied: raw.maybeApplied ?? failureClass === 'timeout',
    };
  }
  const result = raw.result;
  for (const rule of step.classify) {
    let hit: boolean;
    try {
      hit = rule.when.test({ ...ctx, result });
    } catch (err) {
      return {
        ok: false,
        failureClass: 'internal',
        message: `classify rule "${rule.when.source}" could not be evaluated: ${(err as Error).message}`,
        result,
        maybeApplied: true,
      };
    }
    if (hit) {
      return { ok: false, failureClass: rule.as, message: `${describeResult(result)} (classified by "${rule.when.source}")`, result, maybeApplied: false, ...retryAfter(raw) };
    }
  }
  if (isHttpResult(result)) {
    const cls = httpStatusClass(result.status);
    if (cls) return { ok: false, failureClass: cls, message: describeResult(result), result, maybeApplied: false, ...retryAfter(raw) };
  } else if (isExecResult(result) && result.exitCode !== 0) {
    // A program that ran and said no: nothing suggests another try would say yes.
    return { ok: false, failureClass: 'business', message: describeResult(result), result, maybeApplied: false };
  }
  return { ok: true, result };
}

/**
 * A read (a probe) that got no usable answer because of a passing fault: a transient error or
 * status, or a timeout. Null when the answer, or the failure, says something about the effect.
 */
export function passingReadFailure(raw: RawOutcome): 'transient' | 'timeout' | null {
  if (raw.kind === 'error') {
    const cls = raw.failureClass ?? (raw.code === 'TIMEOUT' ? 'timeout' : raw.code && TRANSIENT_CODES.has(raw.code) ? 'transient' : null);
    return cls === 'transient' || cls === 'timeout' ? cls : null;
  }
  return isHttpResult(raw.result) && httpStatusClass(raw.result.status) === 'transient' ? 'transient' : null;
}

function retryAfter(raw: { retryAfterMs?: number }): { retryAfterMs?: number } {
  return raw.retryAfterMs === undefined ? {} : { retryAfterMs: raw.retryAfterMs };
}

/** Parses a `Retry-After` header (seconds or an HTTP date) to milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return Math.round(secs * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/**
 * Retry policies per failure class (runbook-format.md, "Failure classes"): the built-in default
 * handling, and the merge step override > runbook `retry` > built-in. An entry replaces the
 * policy of its class entirely, so a reviewer reads one place to know how a class is retried.
 */
import { FAILURE_CLASSES } from '../lifecycle/vocabulary.js';
import { parseDuration } from './duration.js';
import type { RetryPolicies, RetryPolicy } from './plan.js';
import type { RetryDoc, RetryPolicyDoc } from './schema.js';

const TRANSIENT: RetryPolicy = { attempts: 3, backoff: 'exponential', delayMs: 1_000, maxDelayMs: 30_000, jitter: true, refresh: false, confirm: false };

/**
 * The built-in defaults: transient and timeout retried 3 times in all with exponential backoff
 * from 1s to 30s and jitter; dependency twice, 30s apart, refreshing earlier safe steps. Other
 * classes are not retried.
 */
export const BUILTIN_RETRY: Readonly<RetryPolicies> = Object.freeze({
  transient: Object.freeze({ ...TRANSIENT }),
  timeout: Object.freeze({ ...TRANSIENT }),
  dependency: Object.freeze({ attempts: 2, backoff: 'fixed', delayMs: 30_000, maxDelayMs: 30_000, jitter: false, refresh: true, confirm: false } satisfies RetryPolicy),
});

/** Defaults for the fields an entry leaves out: fixed 1s, maxDelay 30s (or `delay` if longer), no jitter, no refresh. */
export function retryPolicyFromDoc(doc: RetryPolicyDoc): RetryPolicy {
  const delayMs = doc.delay === undefined ? 1_000 : parseDuration(doc.delay);
  const maxDelayMs = doc.maxDelay === undefined ? Math.max(30_000, delayMs) : parseDuration(doc.maxDelay);
  return {
    attempts: doc.attempts,
    backoff: doc.backoff ?? 'fixed',
    delayMs,
    maxDelayMs,
    jitter: doc.jitter ?? false,
    refresh: Array.isArray(doc.refresh) ? [...doc.refresh] : (doc.refresh ?? false),
    confirm: doc.confirm ?? false,
  };
}

/** Policies per class: step entry, else runbook entry, else built-in; absent means not retried. */
export function mergeRetry(runbook: RetryDoc | undefined, step: RetryDoc | undefined): RetryPolicies {
  const out: RetryPolicies = {};
  for (const cls of FAILURE_CLASSES) {
    const entry = step?.[cls] ?? runbook?.[cls];
    if (entry) out[cls] = retryPolicyFromDoc(entry);
    else if (BUILTIN_RETRY[cls]) out[cls] = { ...BUILTIN_RETRY[cls]!, refresh: BUILTIN_RETRY[cls]!.refresh };
  }
  return out;
}

/**
 * Whether a failed attempt is tried again, and when. Pure: the caller passes the clock and the
 * random source, so the same inputs always give the same verdict.
 */
import type { EscalationReason, FailureClass } from '../lifecycle/vocabulary.js';
import type { RetryPolicy } from '../runbook/plan.js';

export type RetryVerdict =
  | { retry: true; delayMs: number; at: Date; refresh: boolean | string[]; policy: RetryPolicy }
  | { retry: false; reason: EscalationReason; message: string };

export interface RetryInput {
  policy: RetryPolicy | undefined;
  failureClass: FailureClass;
  /** Failures of this class on this step so far, including the one just seen. */
  failures: number;
  retryUsed: number;
  retryLimit: number;
  deadlineAt: Date | null;
  retryAfterMs?: number;
  now: Date;
  /** A number in [0, 1) for jitter. */
  random: number;
}

/** Delay before retry number `n` (1 = the first retry), before Retry-After and deadline. */
export function backoffDelay(policy: RetryPolicy, n: number, random: number): number {
  const base =
    policy.backoff === 'exponential' ? policy.delayMs * 2 ** Math.max(0, n - 1) : policy.delayMs;
  const capped = Math.min(base, Math.max(policy.maxDelayMs, policy.delayMs));
  // "Full jitter" over the upper half: spreads a thundering herd without ever retrying at once.
  return policy.jitter ? Math.round(capped / 2 + (capped / 2) * random) : capped;
}

/** The escalation reason for a failure that is not retried. */
export function finalReason(failureClass: FailureClass, exhausted: boolean): EscalationReason {
  switch (failureClass) {
    case 'verification':
      return 'verification_failed';
    case 'ambiguous':
      return 'ambiguous_state';
    case 'off_policy':
      return 'off_policy';
    default:
      return exhausted ? 'retries_exhausted' : 'non_retryable';
  }
}

export function retryVerdict(input: RetryInput): RetryVerdict {
  const { policy, failureClass, failures } = input;
  if (!policy || policy.attempts <= 1) {
    return { retry: false, reason: finalReason(failureClass, false), message: `${failureClass} failures are not retried` };
  }
  if (failures >= policy.attempts) {
    return {
      retry: false,
      reason: finalReason(failureClass, true),
      message: `${failures} ${failureClass} failures; the policy allows ${policy.attempts} tries`,
    };
  }
  if (input.retryUsed + 1 > input.retryLimit) {
    return {
      retry: false,
      reason: 'budget_exhausted',
      message: `the task's retry budget of ${input.retryLimit} is used up`,
    };
  }
  let delayMs = backoffDelay(policy, failures, input.random);
  // Honour the server's Retry-After (429/503): never earlier than it asks.
  if (input.retryAfterMs !== undefined) delayMs = Math.max(delayMs, input.retryAfterMs);
  const at = new Date(input.now.getTime() + delayMs);
  if (input.deadlineAt && at.getTime() > input.deadlineAt.getTime()) {
    return {
      retry: false,
      reason: 'deadline_exceeded',
      message: `a retry in ${delayMs}ms would start after the deadline ${input.deadlineAt.toISOString()}`,
    };
  }
  return { retry: true, delayMs, at, refresh: policy.refresh, policy };
}

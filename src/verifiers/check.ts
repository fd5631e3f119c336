/**
 * The verification role: end-state checks (`verify` with `expect` and `poll`). Pure: the
 * orchestrator runs the check's action and asks here what the answer means and whether to look
 * again.
 */
import type { ExprContext, VerifyCheck } from '../runbook/plan.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import { observe } from '../orchestrator/observe.js';

export interface CheckVerdict {
  passed: boolean;
  /** What the responder sees in the packet's evidence: status and a body excerpt, or the error. */
  observed: unknown;
  /** Why it could not pass at all (no answer, an expression error), when that is the case. */
  problem: string | null;
}

export function evaluateCheck(check: VerifyCheck, raw: RawOutcome, ctx: ExprContext): CheckVerdict {
  if (raw.kind === 'error') return { passed: false, observed: { error: raw.message }, problem: raw.message };
  try {
    return { passed: check.expect.test({ ...ctx, result: raw.result }), observed: observe(raw.result), problem: null };
  } catch (err) {
    return { passed: false, observed: observe(raw.result), problem: `expect could not be evaluated: ${(err as Error).message}` };
  }
}

/**
 * Whether a failed check is looked at again: only with `poll`, only while the next look falls
 * inside the window opened at `startedAt`, and never at or after the task's deadline.
 */
export function pollAgain(check: VerifyCheck, startedAt: Date, now: Date, deadlineAt: Date | null): boolean {
  if (!check.poll) return false;
  const nextPoll = now.getTime() + check.poll.everyMs;
  return nextPoll <= startedAt.getTime() + check.poll.withinMs && nextPoll < (deadlineAt?.getTime() ?? Infinity);
}

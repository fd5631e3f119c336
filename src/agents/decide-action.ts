/**
 * The `decide` action on the executor's side: cut what the agent sees to the step's `show`,
 * mask secrets out of it, offer only the options whose `when` holds, bound the call by the
 * step's timeout, and report what came back. It never judges the answer (the orchestrator's
 * guard does) and never throws: a model failure is a classified error outcome.
 */
import type { FailureClass } from '../lifecycle/vocabulary.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { DecideWith } from '../runbook/plan.js';
import { createMasker } from '../secrets/mask.js';
import { isModelCallError, type DecisionAgent, type DecisionProposal } from './decision-agent.js';
import { DEFAULT_TIMEOUT_MS, deadlineSignal, type ExecuteContext } from './executor.js';

export async function runDecide(w: DecideWith, ctx: ExecuteContext, agent: DecisionAgent | null): Promise<RawOutcome> {
  if (!agent) return { kind: 'error', code: 'NO_MODEL', message: 'no model configured', maybeApplied: false };
  // Secrets never reach a model: a `show` that names one (or data that echoes one) is masked
  // by value, like everything runwarden records.
  const masker = createMasker(Object.values(ctx.expr.secrets ?? {}));
  const shown: Record<string, unknown> = {};
  for (const e of w.show) {
    try {
      shown[e.source] = e.evaluate(ctx.expr);
    } catch (err) {
      return { kind: 'error', failureClass: 'internal', message: `show "${e.source}" could not be evaluated: ${(err as Error).message}`, maybeApplied: false };
    }
  }
  const offered = w.options.filter((o) => {
    try {
      return !o.when || o.when.test(ctx.expr);
    } catch {
      return false; // an option whose condition cannot be evaluated is not offered
    }
  });
  if (offered.length === 0) {
    return { kind: 'error', failureClass: 'ambiguous', message: 'no option is offered in this state: nothing to ask the model', maybeApplied: false };
  }

  const timeoutMs = ctx.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dl = deadlineSignal(ctx.signal, timeoutMs);
  const started = performance.now();
  const log = ctx.logger.child({ model: agent.model });
  try {
    const proposal = await agent.propose({
      taskId: ctx.expr.task.id,
      step: ctx.step.id,
      question: masker.maskString(w.question),
      shown: masker.maskValue(shown),
      options: offered.map((o) => ({ id: o.id, ...(o.goto ? { goto: o.goto } : {}), escalate: o.escalate })),
      signal: dl.signal,
      timeoutMs,
    });
    const elapsed = performance.now() - started;
    const result: DecisionProposal = { ...proposal, latencyMs: proposal.latencyMs ?? Math.round(elapsed) };
    // An agent that ignores the signal can still answer after the step's time is up; the guard
    // refuses such an answer (it may rest on a state that has moved on).
    if (dl.timedOut() || elapsed > timeoutMs) {
      result.problem = [proposal.problem, `answered after the step's timeout of ${timeoutMs}ms`].filter(Boolean).join('; ');
    }
    log.debug({ latencyMs: result.latencyMs, tokens: result.tokens, problem: result.problem }, 'model answered');
    return { kind: 'result', result };
  } catch (err) {
    const latencyMs = Math.round(performance.now() - started);
    const agentInfo = { model: agent.model, latencyMs };
    if (dl.timedOut()) {
      return { kind: 'error', code: 'TIMEOUT', failureClass: 'timeout', message: `model ${agent.model} did not answer within ${timeoutMs}ms`, maybeApplied: false, agent: agentInfo };
    }
    if (ctx.signal.aborted) {
      return { kind: 'error', code: 'ABORTED', failureClass: 'transient', message: `model ${agent.model}: call aborted, the worker stopped`, maybeApplied: false, agent: agentInfo };
    }
    const status = isModelCallError(err) ? err.status : undefined;
    const failureClass = modelFailureClass(status);
    log.warn({ err, status, latencyMs }, 'model call failed');
    return {
      kind: 'error',
      code: 'MODEL_ERROR',
      failureClass,
      message: `${(err as Error).message}${status ? ` (HTTP ${status})` : ''}`,
      // A decision changes nothing outside: nothing can have taken effect.
      maybeApplied: false,
      agent: { model: agent.model, latencyMs: isModelCallError(err) ? err.latencyMs : latencyMs },
    };
  } finally {
    dl.dispose();
  }
}

/**
 * The class of a failed model call: no answer, 429 and 5xx are `transient` (the step's retry
 * policy may try again); 401/403 `permission`; any other refusal is `internal`, a configuration
 * problem (unknown model, an endpoint without function calling) another try will not fix.
 */
export function modelFailureClass(status: number | undefined): FailureClass {
  if (status === undefined || status === 408 || status === 429 || status >= 500) return 'transient';
  if (status === 401 || status === 403) return 'permission';
  return 'internal';
}

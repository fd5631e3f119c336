/**
 * The execution role: runs one action and reports a raw outcome. It never decides what the
 * outcome means (the orchestrator classifies it) and never throws for a failure of the other
 * side; a throw is a bug and is classified `internal`.
 */
import type { Logger } from '../log.js';
import type { ActionSpec, CompiledRunbook, CompiledStep, ExprContext } from '../runbook/plan.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { AttemptRef } from '../orchestrator/types.js';

export interface ExecuteContext {
  expr: ExprContext;
  runbook: CompiledRunbook;
  step: CompiledStep;
  attempt: AttemptRef;
  /** Aborted when the worker stops, loses its lease or the task is cancelled. */
  signal: AbortSignal;
  /** The step's (or check's) timeout; executors fall back to the system's, then 30s. */
  timeoutMs?: number;
  logger: Logger;
}

export interface Executor {
  run(spec: ActionSpec, ctx: ExecuteContext): Promise<RawOutcome>;
}

/** Used when neither the step nor its system says how long an action may take. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A signal that aborts on the parent or after `ms`, and tells which: a timeout is a failure
 * class of its own (`timeout`), an abort is the worker stopping.
 */
export function deadlineSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; timedOut: () => boolean; dispose: () => void } {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new Error(`timed out after ${ms}ms`));
  }, ms);
  const onAbort = () => ctl.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

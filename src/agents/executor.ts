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

/** A step's deadline: a signal that aborts on the parent or once the time is up. */
export interface Deadline {
  signal: AbortSignal;
  /** The time ran out (a failure of class `timeout`), as opposed to the parent aborting. */
  timedOut(): boolean;
  /** Starts the clock, for a deadline made with `deferStart` (idempotent). */
  start(): void;
  dispose(): void;
}

/**
 * A signal that aborts on the parent or `ms` after the clock starts (at once, or at `start()`
 * with `deferStart`), and tells which: a timeout is a failure class of its own (`timeout`), an
 * abort is the worker stopping.
 *
 * When the time is up, the abort waits for the I/O already received to be handled first (one
 * turn of the event loop) and does not happen when `done()` says the action finished meanwhile:
 * an answer that arrived in time is not lost to a timer that fired in the same turn.
 */
export function deadlineSignal(parent: AbortSignal, ms: number, opts: { deferStart?: boolean; done?: () => boolean } = {}): Deadline {
  const ctl = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let grace: NodeJS.Immediate | undefined;
  let disposed = false;
  const start = () => {
    if (timer || disposed) return;
    timer = setTimeout(() => {
      grace = setImmediate(() => {
        if (disposed || opts.done?.()) return;
        timedOut = true;
        ctl.abort(new Error(`timed out after ${ms}ms`));
      });
    }, ms);
  };
  const onAbort = () => ctl.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  if (!opts.deferStart) start();
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    start,
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
      if (grace) clearImmediate(grace);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

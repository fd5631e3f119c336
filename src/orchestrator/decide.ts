/**
 * The orchestrator's decision: (task, compiled runbook, event, env) -> one checkpoint and what to
 * do next. Pure: no I/O, no clock, no randomness but what `env` passes in, so it gets fast unit
 * tests and recorded ledgers can be replayed through it.
 *
 * The walk for one step: enter (guards, `when`, approval, wait) -> refresh (before a retry) ->
 * probe (a `once` step whose effect may have happened) -> action -> verify -> next. A failure is
 * classified, then retried (durably: `retry_scheduled`), or handled by `onFailure`.
 */
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import { Draft } from './draft.js';
import { release } from './moves.js';
import { onInDoubt } from './recovery.js';
import { compensateNext } from './rollback.js';
import { enterStep, enterStepCursor, startAction, startProbe, startRefresh, startVerify } from './step-entry.js';
import { onFinished, recordCancelledAttempt } from './step-outcome.js';
import { finish, goToNext } from './step-settle.js';
import type { DecideEnv, Decision, OrchestratorEvent, TaskView } from './types.js';

export { COMPENSATION_TRIES } from './rollback.js';
export { DEFAULT_AGENT_CALL_CAP } from './agent-step.js';
export { compensationQueue } from './rollback.js';

export function decide(task: TaskView, plan: CompiledRunbook, event: OrchestratorEvent, env: DecideEnv): Decision {
  const d = new Draft(task, plan, env);
  if (!d.cursor.callbackToken && plan.steps.some((s) => s.spec.action === 'wait')) {
    d.cursor.callbackToken = env.newToken();
    d.touch();
  }
  if (event.kind === 'claimed') {
    for (const open of event.openAttempts) onInDoubt(d, open);
  } else if (event.kind === 'finished' && task.cancelRequested) {
    // An operator cancelled while the attempt ran: record what it did, then stop. Nothing else
    // follows from its outcome (no retry, no next step).
    recordCancelledAttempt(d, event.attempt, event.outcome, event.durationMs);
    d.moveTo('cancelled');
    return release(d);
  } else if (event.kind === 'finished') {
    const early = onFinished(d, event.attempt.kind, event.attempt.step, event.attempt.attempt, event.attempt.idempotencyKey, event.outcome, event.durationMs);
    if (early) return early;
  }
  return advance(d);
}

// ---------------------------------------------------------------------------------------------
// Walking forward

function advance(d: Draft): Decision {
  // Bounded: each pass settles a step or returns; a runbook has no loops.
  for (let pass = 0; pass <= d.plan.steps.length * 4 + 8; pass++) {
    if (d.task.cancelRequested && ['running', 'compensating', 'retry_scheduled', 'waiting_callback', 'awaiting_approval'].includes(d.state)) {
      // An operator cancelled while this worker held the task: stop at this safe point.
      d.moveTo('cancelled');
      return release(d);
    }
    if (d.state !== 'running' && d.state !== 'compensating') return release(d);
    if (d.state === 'compensating') return compensateNext(d);
    if (d.currentStep === null) {
      const first = d.plan.steps[0];
      if (!first) {
        finish(d);
        continue;
      }
      enterStepCursor(d, first.id);
    }
    const step = d.current()!;
    const decision = stepPhase(d, step);
    if (decision) return decision;
  }
  throw new Error(`decision for task ${d.task.id} did not settle`);
}

function stepPhase(d: Draft, step: CompiledStep): Decision | null {
  switch (d.cursor.phase ?? 'enter') {
    case 'enter':
      return enterStep(d, step);
    case 'refresh':
      return startRefresh(d, step);
    case 'probe':
      return startProbe(d, step);
    case 'action':
      return startAction(d, step);
    case 'verify':
      return startVerify(d, step);
    case 'next':
      goToNext(d, step, true);
      return null;
  }
}

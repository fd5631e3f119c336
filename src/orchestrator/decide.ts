/**
 * The orchestrator's decision: (task, compiled runbook, event, env) -> one checkpoint and what to
 * do next. Pure: no I/O, no clock, no randomness but what `env` passes in, so it gets fast unit
 * tests and recorded ledgers can be replayed through it.
 *
 * The walk for one step, by the cursor's phase: entering (guards, `when`, approval, wait) ->
 * refreshing (before a retry) -> probing (a once step whose effect may have happened) ->
 * attempting -> verifying -> the next step. A failure is classified, then retried (durably:
 * `retry_scheduled`), or handled by `onFailure`; a rollback is the `compensating` phase.
 *
 * Modules import one way: decide -> entry, attempts, outcomes, recovery -> agent-step ->
 * settle -> compensation -> walk -> draft, cursor (and the leaves: retry-policy, outcome,
 * agent-guard, captures, observe).
 */
import { AUTOMATED_STATES, isOneOf } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import { startAction, startProbe, startRefresh, startVerify } from './attempts.js';
import { compensateNext } from './compensation.js';
import { Draft } from './draft.js';
import { enterStep } from './entry.js';
import { onFinished, recordCancelledAttempt } from './outcomes.js';
import { onInDoubt } from './recovery.js';
import type { DecideEnv, Decision, OrchestratorEvent, TaskView } from './types.js';
import { deadlinePassed, finish, goToNext, RELEASE, WALK_ON, type Progress } from './walk.js';

export { COMPENSATION_TRIES, compensationQueue } from './compensation.js';
export { DEFAULT_AGENT_CALL_CAP } from './agent-step.js';

export function decide(task: TaskView, plan: CompiledRunbook, event: OrchestratorEvent, env: DecideEnv): Decision {
  const d = new Draft(task, plan, env);
  if (!d.cursor.callbackToken && plan.steps.some((s) => s.spec.action === 'wait')) {
    d.cursor.callbackToken = env.newToken();
    d.touch();
  }
  return assemble(d, react(d, event));
}

/** The event's own consequences, then the walk forward from where they leave the cursor. */
function react(d: Draft, event: OrchestratorEvent): Progress {
  if (event.kind === 'claimed') {
    for (const open of event.openAttempts) onInDoubt(d, open);
  } else if (event.kind === 'finished' && d.task.cancelRequested) {
    // An operator cancelled while the attempt ran: record what it did, then stop. Nothing else
    // follows from its outcome (no retry, no next step).
    recordCancelledAttempt(d, event.attempt, event.outcome, event.durationMs);
    d.moveTo('cancelled');
    return RELEASE;
  } else if (event.kind === 'finished') {
    const after = onFinished(d, event.attempt, event.outcome, event.durationMs);
    if (after.kind === 'stop') return after;
  }
  return walkOn(d);
}

/** One decision: every change the draft gathered as one commit, and the stop's next command. */
function assemble(d: Draft, progress: Progress): Decision {
  if (progress.kind !== 'stop') throw new Error(`decision for task ${d.task.id} did not settle`);
  const commit = d.commit();
  return commit ? { commit, next: progress.next } : { next: progress.next };
}

function walkOn(d: Draft): Progress {
  // Bounded: each pass settles a step or stops; a runbook has no loops.
  for (let pass = 0; pass <= d.plan.steps.length * 4 + 8; pass++) {
    if (d.task.cancelRequested && isOneOf(AUTOMATED_STATES, d.state)) {
      // An operator cancelled while this worker held the task: stop at this safe point.
      d.moveTo('cancelled');
      return RELEASE;
    }
    if (d.state === 'compensating') return compensateNext(d);
    if (d.state === 'awaiting_approval') {
      // Taken up at its deadline: an approval nobody gave in time is handed over.
      deadlinePassed(d, d.current() ?? null);
      return RELEASE;
    }
    if (d.state !== 'running') return RELEASE;
    if (d.currentStep === null) {
      const first = d.plan.steps[0];
      if (first) d.enter(first.id);
      else finish(d);
      continue;
    }
    const progress = stepPhase(d, d.current()!);
    if (progress.kind === 'stop') return progress;
  }
  throw new Error(`decision for task ${d.task.id} did not settle`);
}

/** The current step, from where its phase says the walk is. */
function stepPhase(d: Draft, step: CompiledStep): Progress {
  const phase = d.phase;
  switch (phase.at) {
    case 'entering':
    case 'waiting':
      return enterStep(d, step);
    case 'refreshing':
      return startRefresh(d, step);
    case 'probing':
      return startProbe(d, step);
    case 'attempting':
      return startAction(d, step);
    case 'verifying':
      return startVerify(d, step);
    case 'settled':
      goToNext(d, step, true);
      return WALK_ON;
    case 'idle':
    case 'compensating':
      // A current step with no phase of its own (a cursor edited by hand, a rollback that was
      // handed over and retried): the step is entered again, keeping what it gathered.
      d.setPhase({ at: 'entering' });
      return WALK_ON;
  }
}

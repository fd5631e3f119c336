/**
 * The walk's moves, shared by every part of the decision: what a part says when it is done
 * (`Progress`: walk on, or stop with what to do next), going to the next step or jumping ahead,
 * finishing the task, yielding to a stopping worker, and the deadline.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import { UNDONE_STEP_STATUSES, isOneOf, type WorkRole } from '../lifecycle/vocabulary.js';
import type { CompiledStep } from '../runbook/plan.js';
import type { Draft } from './draft.js';
import type { Next } from './types.js';

/**
 * What a part of the walk says: `walk on` (the cursor moved and the walk goes on from there in
 * this same decision), or `stop` with what the worker does next. The decision is assembled once,
 * from the draft's changes and the `next` of the stop.
 */
export type Progress = { readonly kind: 'walk-on' } | { readonly kind: 'stop'; readonly next: Next };

export const WALK_ON: Progress = { kind: 'walk-on' };

/** Let go of the task (its state says what happens to it). */
export const RELEASE: Progress = { kind: 'stop', next: { type: 'release' } };

export function stop(next: Next): Progress {
  return { kind: 'stop', next };
}

/**
 * True (and the task handed back) when the worker is stopping: it starts nothing new, and a
 * running task goes back to `queued` for another worker.
 */
export function yieldsToStop(d: Draft): boolean {
  if (!d.env.stopping) return false;
  d.event('lease.released', d.currentStep, { why: 'worker stopping' });
  if (d.state === 'running') d.moveTo('queued');
  return true;
}

/**
 * True (and the task handed on) when the work about to start is a role this worker does not
 * serve (`work --roles`): nothing starts, the lease is released with the role named, and the task
 * keeps its state, so a worker of that role takes it up where it is (it still counts as running
 * for its concurrency key: it is mid-flight between roles, not waiting).
 */
export function yieldsToRole(d: Draft, role: WorkRole): boolean {
  const served = d.env.roles;
  if (!served || served.includes(role)) return false;
  d.event('lease.released', d.currentStep, { why: `waiting for a worker that serves ${role}`, role });
  return true;
}

/** True (and the task escalated) when the task's deadline has passed. */
export function deadlinePassed(d: Draft, step: CompiledStep | null): boolean {
  const deadline = d.task.deadlineAt;
  if (!deadline || d.now.getTime() < deadline.getTime()) return false;
  d.escalate({
    kind: 'deadline_exceeded',
    failureClass: null,
    step: step?.id ?? null,
    message: `the task's deadline ${deadline.toISOString()} passed${step ? ` before ${step.id} could finish` : ''}`,
  });
  return true;
}

/** After `step`: the first `next` rule that holds (when `useRules`), else the following step, else the end. */
export function goToNext(d: Draft, step: CompiledStep, useRules: boolean): void {
  if (useRules && step.next.length) {
    const ctx = d.context(step);
    for (const rule of step.next) {
      let hit: boolean;
      try {
        hit = !rule.when || rule.when.test(ctx);
      } catch {
        hit = false;
      }
      if (hit) return jumpTo(d, step, rule.goto);
    }
  }
  const following = d.plan.steps[step.index + 1];
  if (following) d.enter(following.id);
  else finish(d);
}

/** Jumps from `from` to a later step (or `end`), marking the pending steps between skipped. */
export function jumpTo(d: Draft, from: CompiledStep, target: string): void {
  const end = target === 'end' ? d.plan.steps.length : d.plan.stepIndex[target];
  if (end === undefined || end <= from.index) throw new Error(`goto ${target} from ${from.id} is not a later step`);
  for (let i = from.index + 1; i < end; i++) {
    const s = d.plan.steps[i]!;
    if (d.record(s.id).status === 'pending') {
      d.setStatus(s.id, 'skipped', `jumped over: ${from.id} went to ${target}`);
      d.event('step.skipped', s.id, { reason: 'goto', from: from.id, to: target });
    }
  }
  if (target === 'end') finish(d);
  else d.enter(target);
}

/** The last step is behind: completed, or partially_completed when a step was let go. */
export function finish(d: Draft): void {
  d.leaveSteps();
  if (d.cursor.partial) {
    const failed = d.plan.steps.filter((s) => isOneOf(UNDONE_STEP_STATUSES, d.record(s.id).status)).map((s) => s.id);
    d.moveTo('partially_completed');
    d.notice({
      kind: 'partial_completion',
      failureClass: null,
      step: failed[0] ?? null,
      message: `finished with ${failed.length} step(s) not done: ${failed.join(', ')}`,
    });
  } else {
    d.moveTo('completed');
  }
}

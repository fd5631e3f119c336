/**
 * The operator actions that put a stopped task back to work: `resume` (the current step afresh,
 * from an earlier step, or the rollback that stopped), `retry` (the current step, probing first
 * where a once step may have taken effect) and `skip` (the current step settled by hand).
 * Automation continues from `queued`.
 */
import { RunwardenError } from '../errors.js';
import { ATTEMPTED_STEP_STATUSES, isOneOf } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import { saveRunbookVersion } from '../store/runbook-versions.js';
import type { TaskPatch, TaskRow } from '../store/tasks.js';
import { probesFirst, type Cursor, type Phase } from './cursor.js';
import { apply, cursorOf, deadlinePatch, load, needPlan, stepsOf, type ActionInput, type ActionContext, type ActionResult, type ResumeOptions, type RunbookUpgrade } from './operator-core.js';

/** Re-enter the current step afresh: new failure counts, same idempotency key, probe if in doubt. */
function reenter(task: TaskRow, plan: CompiledRunbook, cursor: Cursor): Cursor {
  const step = task.currentStep ? plan.steps[plan.stepIndex[task.currentStep] ?? -1] : undefined;
  const inDoubt = task.currentStep ? task.steps[task.currentStep]?.status === 'in_doubt' : false;
  const phase = cursor.phase;
  const probeFirst = step?.repeat === 'once' && (inDoubt || probesFirst(phase));
  // A wait whose callback came keeps its data; one that timed out starts over with a new
  // deadline (and the task's same token).
  const next: Phase = phase.at === 'waiting' && phase.data !== undefined ? phase : { at: 'entering', ...(probeFirst ? { probeFirst: true as const } : {}) };
  const { failures: _failures, crashes: _crashes, ...kept } = cursor.step;
  return { ...cursor, phase: next, step: kept };
}

/**
 * `--upgrade-runbook`: the runbook version loaded now, if the step the task resumes at is in it.
 * The task's own version stays what it runs on unless an operator moves it, explicitly.
 */
function upgradeTo(ctx: ActionContext, task: TaskRow, at: string | null): { plan: CompiledRunbook; upgrade: RunbookUpgrade } {
  const current = task.runbookId ? ctx.runbooks.byId.get(task.runbookId) : undefined;
  if (!current) throw new RunwardenError('RUNBOOK_NOT_FOUND', `--upgrade-runbook: runbook ${task.runbookId} of task ${task.id} is not loaded`);
  if (at !== null && current.stepIndex[at] === undefined) {
    throw new RunwardenError(
      'REQUEST_INVALID',
      `--upgrade-runbook: ${current.id} version ${current.version} (${current.hash.slice(0, 12)}) has no step ${at}, where task ${task.id} would resume; its steps: ${current.steps.map((s) => s.id).join(', ')}. Resume on the task's own version (without --upgrade-runbook), or --from a step the new version has`,
      { details: { step: at, runbook: current.id, version: current.version, hash: current.hash } },
    );
  }
  return { plan: current, upgrade: { from: { version: task.runbookVersion, hash: task.runbookHash }, to: { version: current.version, hash: current.hash } } };
}

export async function resume(ctx: ActionContext, ref: string, input: ResumeOptions): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'resume', input);
  const moved = input.upgradeRunbook ? upgradeTo(ctx, task, input.from ?? task.currentStep) : undefined;
  const p = moved ? moved.plan : needPlan(task, plan);
  if (task.state === 'failed' && !input.force) {
    throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} is failed: resume it only with --force (which also resets its retry budget)`, { details: { state: task.state } });
  }
  const options: Record<string, unknown> = {};
  const patch: TaskPatch = {};
  if (moved) {
    patch.runbookHash = moved.upgrade.to.hash;
    patch.runbookVersion = moved.upgrade.to.version;
    options.runbookUpgrade = moved.upgrade;
    if (!input.dryRun) await saveRunbookVersion(ctx.db, { hash: p.hash, runbookId: p.id, version: p.version, file: p.file, source: p.source }, ctx.now);
  }
  const upgraded = moved ? { runbookUpgrade: moved.upgrade } : {};
  if (input.resetBudget || input.force) {
    patch.retryUsed = 0;
    options.budgetReset = { from: task.retryUsed, limit: task.retryLimit };
  }
  if (input.force) options.force = true;
  const dl = deadlinePatch(task, p, ctx.now);
  Object.assign(patch, dl.patch);
  Object.assign(options, dl.options);

  // An escalated rollback resumes the rollback, its queue worked out again.
  if (!input.from && task.escalation?.kind === 'compensation_failed') {
    const cursor: Cursor = { ...cursorOf(task), phase: { at: 'compensating', failures: 0 } };
    const steps = stepsOf(task);
    for (const r of Object.values(steps)) if (r.status === 'compensation_failed') r.status = 'succeeded';
    return { task: await apply(ctx, task, 'resume', input, { to: 'compensating', patch: { ...patch, cursor, steps }, options }), ...upgraded };
  }

  let cursor = cursorOf(task);
  const steps = stepsOf(task);
  let rerunPlan: ActionResult['plan'];
  if (input.from) {
    const fromIndex = p.stepIndex[input.from];
    const currentIndex = task.currentStep ? p.stepIndex[task.currentStep] ?? p.steps.length : p.steps.length;
    if (fromIndex === undefined) throw new RunwardenError('REQUEST_INVALID', `--from ${input.from}: runbook ${p.id} has no such step; steps: ${p.steps.map((s) => s.id).join(', ')}`);
    if (fromIndex > currentIndex) throw new RunwardenError('REQUEST_INVALID', `--from ${input.from} is after the current step ${task.currentStep}; resume only goes back`);
    const rerun = p.steps.slice(fromIndex, currentIndex + 1).map((s) => s.id);
    const changed = p.steps
      .slice(fromIndex, currentIndex + 1)
      .filter((s) => s.changes && isOneOf(ATTEMPTED_STEP_STATUSES, steps[s.id]?.status ?? 'pending') && (steps[s.id]?.attempts ?? 0) > 0)
      .map((s) => s.id);
    rerunPlan = { from: input.from, rerun, changed };
    if (input.dryRun) return { task, plan: rerunPlan, dryRun: true, ...upgraded };
    if (changed.length && !input.yes) {
      throw new RunwardenError(
        'CONFIRMATION_REQUIRED',
        `resuming from ${input.from} runs again steps that changed something: ${changed.join(', ')}. Check them, then confirm with --yes (or see the plan with --dry-run)`,
        { details: rerunPlan },
      );
    }
    for (const s of p.steps.slice(fromIndex)) steps[s.id] = { status: 'pending', attempts: 0, captures: {} };
    // Attempt numbers keep counting up: the earlier attempts stay in the history.
    cursor = { v: 2, phase: { at: 'entering' }, step: {}, counters: cursor.counters };
    patch.currentStep = input.from;
    options.from = input.from;
    options.rerun = rerun;
  } else if (input.dryRun) {
    return { task, dryRun: true, plan: { from: task.currentStep ?? '', rerun: task.currentStep ? [task.currentStep] : [], changed: [] }, ...upgraded };
  } else {
    cursor = reenter(task, p, cursor);
  }
  const updated = await apply(ctx, task, 'resume', input, { to: 'queued', patch: { ...patch, cursor, steps, escalation: null }, options });
  return { task: updated, ...(rerunPlan ? { plan: rerunPlan } : {}), ...upgraded };
}

export async function retry(ctx: ActionContext, ref: string, input: ActionInput & { yes?: boolean }): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'retry', input);
  const p = needPlan(task, plan);
  const step = task.currentStep ? p.steps[p.stepIndex[task.currentStep] ?? -1] : undefined;
  if (!step) throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} has no current step to retry`);
  const cursor = reenter(task, p, cursorOf(task));
  const options: Record<string, unknown> = {};
  if (step.repeat === 'once') {
    if (step.probe) {
      // The double-charge protection holds for operators too: the probe runs first.
      cursor.phase = { at: 'entering', probeFirst: true };
    } else if (!input.yes) {
      throw new RunwardenError(
        'CONFIRMATION_REQUIRED',
        `${step.id} is a once step without a probe: running it again may repeat its effect. Check ${step.id}'s system first; confirm with --yes, or use skip if it did take effect`,
        { details: { step: step.id } },
      );
    } else {
      cursor.phase = { at: 'entering' };
      options.confirmedReplayOfOnceStep = true;
    }
  }
  const dl = deadlinePatch(task, p, ctx.now);
  const updated = await apply(ctx, task, 'retry', input, {
    to: 'queued',
    patch: { ...dl.patch, cursor, nextAttemptAt: null, escalation: null },
    options: { step: step.id, ...options, ...dl.options },
  });
  return { task: updated };
}

export async function skip(ctx: ActionContext, ref: string, input: ActionInput & { capture?: Record<string, unknown> }): Promise<ActionResult> {
  const { task, plan } = await load(ctx, ref, 'skip', input);
  const p = needPlan(task, plan);
  const id = task.currentStep;
  if (!id) throw new RunwardenError('ACTION_NOT_ALLOWED', `task ${task.id} has no current step to skip`);
  const steps = stepsOf(task);
  steps[id] = { ...(steps[id] ?? { attempts: 0, captures: {} }), status: 'skipped', captures: { ...(steps[id]?.captures ?? {}), ...(input.capture ?? {}) }, note: `skipped by ${input.operator}: ${input.reason}`, finishedAt: ctx.now.toISOString() };
  const cursor: Cursor = { ...cursorOf(task), phase: { at: 'settled' } };
  const dl = deadlinePatch(task, p, ctx.now);
  const updated = await apply(ctx, task, 'skip', input, {
    to: 'queued',
    patch: { ...dl.patch, steps, cursor, escalation: null },
    options: { step: id, ...(input.capture ? { capture: Object.keys(input.capture) } : {}), ...dl.options },
  });
  return { task: updated };
}

/**
 * The driver: carries one claimed task through the decision function, doing the I/O it asks
 * for. Every decision's checkpoint is committed before the next action starts, so a worker
 * killed at any point leaves a task another worker resumes from its checkpoints.
 */
import type { Executor } from '../agents/index.js';
import type { Logger } from '../log.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import type { TaskRow } from '../store/tasks.js';
import { releaseTask, writeCheckpoint, type CheckpointHooks } from '../store/checkpoints.js';
import { openAttempts } from '../store/claim.js';
import { hashToken, newToken } from '../ids.js';
import { recordMask } from '../secrets/sensitive.js';
import { decide } from './decide.js';
import { Draft } from './draft.js';
import type { Clock } from './clock.js';
import type { AttemptRef, Commit, OrchestratorEvent, TaskView } from './types.js';

export interface DriverDeps {
  db: Db;
  runbooks: RunbookSet;
  executor: Executor;
  clock: Clock;
  logger: Logger;
  workerId: string;
  /** Environment variables runbooks may read (`env.NAME`). */
  env: Record<string, string>;
  /** Secret values by name (`secrets.NAME`); masked in everything recorded. */
  secrets: Record<string, string>;
  /** Masks known secret values in anything about to be recorded. Default: identity. */
  mask?: <T>(value: T) => T;
  random?: () => number;
  hooks?: CheckpointHooks;
  /** Model calls one task may make in all (decide steps). Default: the decision's own (10). */
  agentCallCap?: number;
}

export interface DriveControl {
  /** Aborted to stop the action in flight (lease lost, cancel, hard stop). */
  signal: AbortSignal;
  /** Aborted to cut a poll wait short (the worker is stopping, or `signal` aborted). */
  wake: AbortSignal;
  /** True once the worker is stopping: record the attempt in flight, start nothing new. */
  stopping(): boolean;
  /** True when the lease was lost: write nothing more. */
  lost(): boolean;
  /** True when an operator asked for cancellation while this worker held the task. */
  cancelled(): boolean;
}

function view(task: TaskRow): TaskView {
  return task as unknown as TaskView;
}

function maskCommit(commit: Commit, mask: <T>(v: T) => T): Commit {
  return {
    ...commit,
    events: mask(commit.events),
    ...(commit.finishAttempts ? { finishAttempts: mask(commit.finishAttempts) } : {}),
    ...(commit.escalation ? { escalation: mask(commit.escalation) } : {}),
    patch: {
      ...commit.patch,
      ...(commit.patch.steps ? { steps: mask(commit.patch.steps) } : {}),
      ...(commit.patch.escalation ? { escalation: mask(commit.patch.escalation) } : {}),
    },
  };
}

/** Runs a claimed task until it leaves the worker's hands. Returns the last state written. */
export async function driveTask(deps: DriverDeps, claimed: TaskRow, control: DriveControl): Promise<TaskRow> {
  const log = deps.logger.child({ taskId: claimed.id });
  let task = claimed;
  const plan = planFor(deps.runbooks, task);
  if (!plan) return stopWithoutPlan(deps, task);
  // The deployment's secrets and this task's sensitive inputs, in everything recorded.
  const mask = recordMask(deps.mask, task.input, plan.sensitiveInputs);

  const open = await openAttempts(deps.db, task.id);
  let event: OrchestratorEvent = {
    kind: 'claimed',
    openAttempts: open.map((o) => ({ ...o, kind: o.kind as AttemptRef['kind'] })),
  };
  for (;;) {
    if (control.signal.aborted && control.lost()) return task; // another worker owns it now
    const now = deps.clock.now();
    const decision = decide(view(task), plan, event, {
      now,
      random: deps.random ?? Math.random,
      newToken,
      hashToken,
      env: deps.env,
      secrets: deps.secrets,
      stopping: control.stopping(),
      ...(deps.agentCallCap !== undefined ? { agentCallCap: deps.agentCallCap } : {}),
    });
    const next = decision.next;
    if (decision.commit) {
      task = await writeCheckpoint(deps.db, {
        taskId: task.id,
        workerId: deps.workerId,
        now,
        commit: maskCommit(decision.commit, mask),
        release: next.type === 'release',
        ...(deps.hooks ? { hooks: deps.hooks } : {}),
      });
      // The next decision reads the unmasked captures: masking is for what is recorded.
      if (decision.commit.patch.steps) (task as { steps: unknown }).steps = decision.commit.patch.steps;
    } else if (next.type === 'release' && task.leaseOwner === deps.workerId) {
      task = await releaseTask(deps.db, { task, workerId: deps.workerId, now, why: 'nothing to do' });
    }
    if (next.type === 'release') {
      log.debug({ state: task.state }, 'task released');
      return task;
    }
    if (next.type === 'sleep') {
      await deps.clock.sleep(next.ms, control.wake);
      event = { kind: 'polled' };
      continue;
    }
    const step = plan.steps[plan.stepIndex[next.attempt.step]!]!;
    const started = performance.now();
    const attemptLog = log.child({ step: next.attempt.step, attempt: next.attempt.attempt, kind: next.attempt.kind });
    const draft = new Draft(view(task), plan, { now, random: Math.random, newToken, hashToken, env: deps.env, secrets: deps.secrets });
    const outcome = await deps.executor.run(next.spec, {
      expr: draft.context(step),
      runbook: plan,
      step,
      attempt: next.attempt,
      signal: control.signal,
      ...(next.timeoutMs !== undefined ? { timeoutMs: next.timeoutMs } : {}),
      logger: attemptLog,
    });
    const durationMs = Math.round(performance.now() - started);
    attemptLog.debug({ outcome: outcome.kind, durationMs }, 'attempt finished');
    event = { kind: 'finished', attempt: next.attempt, outcome, durationMs };
    if (control.cancelled()) task = { ...task, cancelRequested: true };
  }
}

/** Stops a task whose driver threw (a bug): escalated as `internal`, if this worker still holds it. */
export async function escalateInternal(
  deps: Pick<DriverDeps, 'db' | 'hooks'>,
  workerId: string,
  taskId: string,
  err: unknown,
  now: Date,
): Promise<void> {
  const message = `runwarden failed while driving this task: ${err instanceof Error ? err.message : String(err)}`;
  const rows = await deps.db.query<{ state: string; current_step: string | null }>('SELECT state, current_step FROM tasks WHERE id = $1 AND lease_owner = $2', [taskId, workerId]);
  const row = rows[0];
  if (!row || (row.state !== 'running' && row.state !== 'compensating')) return;
  const info = { kind: row.state === 'compensating' ? ('compensation_failed' as const) : ('non_retryable' as const), failureClass: 'internal' as const, step: row.current_step, message, at: now.toISOString() };
  await writeCheckpoint(deps.db, {
    taskId,
    workerId,
    now,
    commit: { to: 'escalated', patch: { escalation: info }, events: [{ type: 'escalated', step: row.current_step, data: { kind: info.kind, failureClass: 'internal', message } }], escalation: info },
    release: true,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });
}

function planFor(runbooks: RunbookSet, task: TaskRow): CompiledRunbook | undefined {
  const plan = task.runbookId ? runbooks.byId.get(task.runbookId) : undefined;
  if (!plan) return undefined;
  // A runbook edited under a running task is used only while the task's step still exists in it.
  if (task.currentStep && plan.stepIndex[task.currentStep] === undefined) return undefined;
  return plan;
}

/** The task's runbook is gone (or no longer has its step): stop safely and say so. */
async function stopWithoutPlan(deps: DriverDeps, task: TaskRow): Promise<TaskRow> {
  const now = deps.clock.now();
  const message = `runbook ${task.runbookId}@${task.runbookVersion} is not loaded${task.currentStep ? ` or has no step ${task.currentStep}` : ''}`;
  const info = { kind: 'non_retryable' as const, failureClass: 'internal' as const, step: task.currentStep, message, at: now.toISOString() };
  if (task.state === 'compensating') {
    return writeCheckpoint(deps.db, {
      taskId: task.id,
      workerId: deps.workerId,
      now,
      commit: { to: 'escalated', patch: { escalation: { ...info, kind: 'compensation_failed' } }, events: [{ type: 'escalated', step: task.currentStep, data: { ...info, kind: 'compensation_failed' } }], escalation: { ...info, kind: 'compensation_failed' } },
      release: true,
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
    });
  }
  return writeCheckpoint(deps.db, {
    taskId: task.id,
    workerId: deps.workerId,
    now,
    commit: { to: 'escalated', patch: { escalation: info }, events: [{ type: 'escalated', step: task.currentStep, data: { kind: info.kind, failureClass: info.failureClass, message } }], escalation: info },
    release: true,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });
}

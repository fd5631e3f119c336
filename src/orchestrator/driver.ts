/**
 * The driver: carries one claimed task through the decision function, doing the I/O it asks
 * for. Every decision's checkpoint is committed before the next action starts, so a worker
 * killed at any point leaves a task another worker resumes from its checkpoints.
 *
 * Every write is fenced by the claim (worker id and lease epoch). A write the database could not
 * take because it was away is the same write tried again once it is back (never a new decision,
 * never an escalation); when the claim was lost meanwhile, the task is another worker's and this
 * driver stops. Each state change is one `task state changed` line at info.
 */
import { randomUUID } from 'node:crypto';
import type { Executor } from '../agents/index.js';
import { sensitiveValues } from '../escalation/build-packet.js';
import { faultPoint, type FaultPoint } from '../fault-points.js';
import type { Logger } from '../log.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import { createMasker } from '../secrets/mask.js';
import { releaseTask, writeCheckpoint, type CheckpointHooks, type CheckpointWrite } from '../store/checkpoints.js';
import { heldTask, leaseOf, openAttempts, type Lease } from '../store/claim.js';
import type { Db } from '../store/db.js';
import { isDatabaseUnavailable, pause, reconnectDelay } from '../store/outage.js';
import { getTask, writeLanded, type EscalationInfo, type TaskRow } from '../store/tasks.js';
import { hashToken, newToken } from '../ids.js';
import { recordMask } from '../secrets/sensitive.js';
import { decide } from './decide.js';
import { Draft } from './draft.js';
import type { Clock } from './clock.js';
import type { AttemptRef, Commit, Decision, OrchestratorEvent } from './types.js';
import { taskViewOf } from './view.js';
import { runbookOf } from './runbook-version.js';
import { tell, type WorkerObserver } from './observer.js';
import { activeTraceId, inStepSpan, inTaskSpan, withTraceId } from '../tracing/spans.js';
import { awaitingRoleOf, withRoles } from './roles.js';
import { WAKE_CHANNEL } from './wake.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';

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
  /** Told of each checkpoint written (metrics). Default: nobody. */
  observer?: WorkerObserver;
  /** The roles this worker serves; work of another role is handed on. Default: every role. */
  roles?: readonly WorkRole[];
}

export interface DriveControl {
  /** The signal for the action about to start: aborted when the lease is lost or may lapse, on cancel, on a hard stop. */
  actionSignal(): AbortSignal;
  /** Aborted to cut a poll wait short (the worker is stopping, or the lease was lost). */
  wake: AbortSignal;
  /** True once the worker is stopping: record the attempt in flight, start nothing new. */
  stopping(): boolean;
  /** True after a hard stop: stop waiting for the database; what is unwritten is left to the lease. */
  halted(): boolean;
  /** True when the lease was lost: write nothing more. */
  lost(): boolean;
  /** True when an operator asked for cancellation while this worker held the task. */
  cancelled(): boolean;
  /**
   * Resolves true when the lease has room for a new action (a renewal succeeded recently enough);
   * waits while renewals fail (the database is away); false once the lease is lost or the worker halted.
   */
  leaseReady(): Promise<boolean>;
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

/**
 * The fault points a checkpoint crosses, by what it records: the outcome of each attempt it
 * finishes, the start of the attempt it begins (one checkpoint often does both).
 */
function boundariesOf(commit: CheckpointWrite): { before: Array<[FaultPoint, string]>; after: Array<[FaultPoint, string]> } {
  const before: Array<[FaultPoint, string]> = [];
  const after: Array<[FaultPoint, string]> = [];
  for (const f of commit.finishAttempts ?? []) {
    const c = f.kind === 'compensate';
    before.push([c ? 'compensation.before-outcome' : 'attempt.before-outcome', f.step]);
    after.push([c ? 'compensation.after-outcome' : 'attempt.after-outcome', f.step]);
  }
  if (commit.startAttempt) {
    const c = commit.startAttempt.kind === 'compensate';
    before.push([c ? 'compensation.before-start' : 'attempt.before-start', commit.startAttempt.step]);
    after.push([c ? 'compensation.after-start' : 'attempt.after-start', commit.startAttempt.step]);
  }
  return { before, after };
}

/**
 * Runs `write` until the database takes it. After a connection error the write may have landed
 * (the commit's answer lost), so `writeId` is looked up before trying again. Throws LEASE_LOST
 * and every other error as they come; DATABASE_UNAVAILABLE only once `halted()`.
 */
export async function persist(
  db: Db,
  taskId: string,
  write: (writeId: string) => Promise<TaskRow>,
  o: { halted: () => boolean; random?: () => number },
): Promise<TaskRow> {
  const writeId = randomUUID();
  let unsure = false;
  for (let n = 0; ; n++) {
    try {
      if (unsure && (await writeLanded(db, taskId, writeId))) {
        const task = await getTask(db, taskId);
        if (task) return task;
      }
      return await write(writeId);
    } catch (err) {
      if (!isDatabaseUnavailable(err) || o.halted()) throw err;
      unsure = true;
      await pause(reconnectDelay(n, o.random));
    }
  }
}

/** Runs a claimed task until it leaves the worker's hands. Returns the last state written. */
export async function driveTask(deps: DriverDeps, claimed: TaskRow, control: DriveControl): Promise<TaskRow> {
  // One span per task attempt (this claim); a no-op unless the deployment installs an OTel SDK.
  return inTaskSpan({ taskId: claimed.id, runbook: claimed.runbookId, taskClass: claimed.taskClass, state: claimed.state, workerId: deps.workerId }, () => drive(deps, claimed, control));
}

async function drive(deps: DriverDeps, claimed: TaskRow, control: DriveControl): Promise<TaskRow> {
  const log = deps.logger.child({ taskId: claimed.id });
  const lease = leaseOf(claimed);
  let task = claimed;
  const retrying = { halted: control.halted, ...(deps.random ? { random: deps.random } : {}) };
  // The pinned version is read from the database: an outage is waited out here too.
  const plan = await retryRead(() => planFor(deps, task), retrying);
  const transitions = transitionLog(log, plan, task);
  if (!plan) return stopWithoutPlan(deps, task, lease, control, transitions);
  // The deployment's secrets and this task's sensitive inputs, in everything recorded.
  const mask = recordMask(deps.mask, task.input, plan.sensitiveInputs);

  const open = await retryRead(() => openAttempts(deps.db, task.id), retrying);
  let event: OrchestratorEvent = {
    kind: 'claimed',
    openAttempts: open.map((o) => ({ ...o, kind: o.kind as AttemptRef['kind'] })),
  };
  for (;;) {
    if (control.lost()) return task; // another claim owns it now
    const now = deps.clock.now();
    const decision = decide(taskViewOf(task), plan, event, {
      now,
      random: deps.random ?? Math.random,
      newToken,
      hashToken,
      env: deps.env,
      secrets: deps.secrets,
      stopping: control.stopping(),
      ...(deps.agentCallCap !== undefined ? { agentCallCap: deps.agentCallCap } : {}),
      ...(deps.roles ? { roles: deps.roles } : {}),
    });
    const next = decision.next;
    let handedOn = false;
    if (decision.commit) {
      const routed = routeCommit(plan, task, decision.commit, next);
      handedOn = routed.handedOn;
      // With a trace, the step's ledger events carry its trace id.
      const traced = { ...routed.commit, events: withTraceId(routed.commit.events, activeTraceId()) };
      const commit = maskCommit(traced, mask);
      const boundary = boundariesOf(commit);
      for (const [point, step] of boundary.before) faultPoint(point, { step });
      const before = task;
      task = await persist(
        deps.db,
        task.id,
        (writeId) => writeCheckpoint(deps.db, { taskId: task.id, task: before, lease, now, commit, release: next.type === 'release', writeId, ...(deps.hooks ? { hooks: deps.hooks } : {}) }),
        retrying,
      );
      for (const [point, step] of boundary.after) faultPoint(point, { step });
      tell(deps.observer, (o) => o.committed?.(task, commit, now));
      if (commit.to) transitions(before, task, commit);
      // The next decision reads the unmasked captures: masking is for what is recorded.
      if (decision.commit.patch.steps) (task as { steps: unknown }).steps = decision.commit.patch.steps;
    } else if (next.type === 'release' && task.leaseOwner === deps.workerId) {
      const before = task;
      task = await persist(deps.db, task.id, (writeId) => releaseTask(deps.db, { task, lease, now, why: 'nothing to do', writeId }), retrying);
      if (task.state !== before.state) transitions(before, task, undefined, 'nothing to do');
    }
    if (next.type === 'release') {
      log.debug({ state: task.state, ...(handedOn ? { awaitingRole: task.awaitingRole } : {}) }, 'task released');
      // A worker of the role the task waits for may be idle: wake it now rather than at its next poll.
      if (handedOn) await deps.db.notify(WAKE_CHANNEL, task.id).catch(() => undefined);
      return task;
    }
    if (next.type === 'sleep') {
      await deps.clock.sleep(next.ms, control.wake);
      event = { kind: 'polled' };
      continue;
    }
    // No action starts on a lease that may lapse while it runs; its start is recorded, so
    // whoever drives the task next treats it as in doubt.
    if (!(await control.leaseReady())) return task;
    const step = plan.steps[plan.stepIndex[next.attempt.step]!]!;
    const started = performance.now();
    const attemptLog = log.child({ step: next.attempt.step, attempt: next.attempt.attempt, kind: next.attempt.kind });
    const draft = new Draft(taskViewOf(task), plan, { now, random: Math.random, newToken, hashToken, env: deps.env, secrets: deps.secrets });
    const outcome = await inStepSpan({ step: next.attempt.step, kind: next.attempt.kind, attempt: next.attempt.attempt, action: next.spec.action }, () =>
      deps.executor.run(next.spec, {
        expr: draft.context(step),
        runbook: plan,
        step,
        attempt: next.attempt,
        signal: control.actionSignal(),
        ...(next.timeoutMs !== undefined ? { timeoutMs: next.timeoutMs } : {}),
        logger: attemptLog,
      }),
    );
    const durationMs = Math.round(performance.now() - started);
    attemptLog.debug({ outcome: outcome.kind, durationMs }, 'attempt finished');
    event = { kind: 'finished', attempt: next.attempt, outcome, durationMs };
    if (control.cancelled()) task = { ...task, cancelRequested: true };
  }
}

/**
 * The checkpoint as written: every attempt event names its role, and the task records the role
 * whose work comes next (the role a hand-on names, else what the next command or the task's new
 * state and cursor leave to do), so the claim gives it only to a worker of that role.
 */
function routeCommit(plan: CompiledRunbook, task: TaskRow, commit: Commit, next: Decision['next']): { commit: Commit; handedOn: boolean } {
  const events = withRoles(commit.events, plan);
  const handOn = events.find((e) => e.type === 'lease.released' && typeof e.data?.role === 'string');
  const after = {
    state: commit.to ?? task.state,
    currentStep: commit.patch.currentStep !== undefined ? commit.patch.currentStep : task.currentStep,
    cursor: (commit.patch.cursor as Record<string, unknown> | undefined) ?? task.cursor,
  };
  const role = handOn ? (handOn.data!.role as WorkRole) : awaitingRoleOf(plan, after, next);
  const patch = role === task.awaitingRole && commit.to !== 'queued' ? commit.patch : { ...commit.patch, awaitingRole: role };
  return { commit: { ...commit, events, patch }, handedOn: handOn !== undefined };
}

/** A read the driver cannot go on without: tried again while the database is away. */
async function retryRead<T>(read: () => Promise<T>, o: { halted: () => boolean; random?: () => number }): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await read();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || o.halted()) throw err;
      await pause(reconnectDelay(n, o.random));
    }
  }
}

/**
 * Stops a task whose driver threw (a bug): escalated as `internal`, if this claim still holds
 * it. Never for the database being away: that is an outage to wait out, not a task to page about.
 */
export async function escalateInternal(deps: Pick<DriverDeps, 'db' | 'hooks'>, lease: Lease, taskId: string, err: unknown, now: Date): Promise<void> {
  if (isDatabaseUnavailable(err)) return;
  const message = `runwarden failed while driving this task: ${err instanceof Error ? err.message : String(err)}`;
  const held = await heldTask(deps.db, taskId, lease);
  if (!held || (held.state !== 'running' && held.state !== 'compensating')) return;
  const info: EscalationInfo = { kind: held.state === 'compensating' ? 'compensation_failed' : 'non_retryable', failureClass: 'internal', step: held.currentStep, message, at: now.toISOString() };
  await writeCheckpoint(deps.db, {
    taskId,
    lease,
    now,
    commit: { to: 'escalated', patch: { escalation: info }, events: [{ type: 'escalated', step: held.currentStep, data: { kind: info.kind, failureClass: 'internal', message } }], escalation: info },
    release: true,
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
  });
}

async function planFor(deps: DriverDeps, task: TaskRow): Promise<CompiledRunbook | undefined> {
  // The version the task started with (runbook-version.ts), whatever the runbooks folder holds now.
  const plan = await runbookOf(deps.db, deps.runbooks, task);
  if (!plan) return undefined;
  // A runbook edited under a running task is used only while the task's step still exists in it.
  if (task.currentStep && plan.stepIndex[task.currentStep] === undefined) return undefined;
  return plan;
}

/** The task's runbook is gone (or no longer has its step): stop safely and say so. */
async function stopWithoutPlan(deps: DriverDeps, task: TaskRow, lease: Lease, control: DriveControl, transitions: TransitionLog): Promise<TaskRow> {
  const now = deps.clock.now();
  const message = `runbook ${task.runbookId}@${task.runbookVersion} is not loaded${task.currentStep ? ` or has no step ${task.currentStep}` : ''}`;
  const kind = task.state === 'compensating' ? ('compensation_failed' as const) : ('non_retryable' as const);
  const info: EscalationInfo = { kind, failureClass: 'internal', step: task.currentStep, message, at: now.toISOString() };
  const commit: CheckpointWrite = {
    to: 'escalated',
    patch: { escalation: info },
    events: [{ type: 'escalated', step: task.currentStep, data: { kind, failureClass: info.failureClass, message } }],
    escalation: info,
  };
  const before = task;
  const done = await persist(
    deps.db,
    task.id,
    (writeId) => writeCheckpoint(deps.db, { taskId: task.id, task: before, lease, now, commit, release: true, writeId, ...(deps.hooks ? { hooks: deps.hooks } : {}) }),
    { halted: control.halted },
  );
  transitions(before, done, commit);
  return done;
}

type TransitionLog = (before: TaskRow, after: TaskRow, commit?: CheckpointWrite, why?: string) => void;

/**
 * One info line per state change: task, runbook, step, new state and why. The why is built from
 * the masked commit and stripped of the task's sensitive inputs, so neither a secret nor a
 * sensitive value reaches the log.
 */
function transitionLog(log: Logger, plan: CompiledRunbook | undefined, task: TaskRow): TransitionLog {
  const sensitive = createMasker(plan ? sensitiveValues(task.input, plan.sensitiveInputs) : []);
  return (before, t, commit, why) => {
    const reason = why ?? reasonOf(t, commit);
    // The step the change happened at: a finished task has none left.
    const step = commit?.escalation?.step ?? t.currentStep ?? before.currentStep;
    log.info(
      { runbook: t.runbookId, step, from: before.state, state: t.state, ...(reason ? { reason: sensitive.maskString(reason) } : {}) },
      'task state changed',
    );
  };
}

function reasonOf(task: TaskRow, commit: CheckpointWrite | undefined): string | undefined {
  const esc = commit?.escalation ?? (task.state === 'escalated' ? task.escalation : null);
  if (esc) return `${esc.kind}: ${esc.message}`;
  const retry = commit?.events.find((e) => e.type === 'retry.scheduled');
  if (retry) {
    const d = retry.data ?? {};
    return `${String(d.failureClass ?? 'failure')} failure; next attempt at ${task.nextAttemptAt?.toISOString() ?? 'once due'}`;
  }
  const released = commit?.events.find((e) => e.type === 'lease.released');
  if (released) return String(released.data?.why ?? 'released');
  return undefined;
}

/**
 * A worker's checkpoint: the attempt rows (a start before the action runs; the outcome after it),
 * the task's new state, cursor and captures, and the ledger events, in one transaction, fenced by
 * the worker's claim (worker id and lease epoch).
 */
import { FINISHED_STATES, isOneOf, type AttemptKind, type AttemptOutcome, type FailureClass, type TaskState } from '../lifecycle/vocabulary.js';
import type { Lease } from './claim.js';
import type { Db } from './db.js';
import type { NewEvent } from './events.js';
import { applyChange, type EscalationInfo, type TaskPatch, type TaskRow } from './tasks.js';

/** An attempt as its start is recorded (before the action runs). */
export interface AttemptRef {
  step: string;
  kind: AttemptKind;
  attempt: number;
  idempotencyKey: string | null;
}

/** An attempt's outcome, recorded after it. */
export interface AttemptFinish extends AttemptRef {
  outcome: AttemptOutcome;
  failureClass: FailureClass | null;
  error: string | null;
  durationMs: number;
  result: unknown;
}

/** One durable checkpoint: applied in one transaction with its ledger events (the worker adds the actor). */
export interface CheckpointWrite {
  to?: TaskState;
  patch: Pick<TaskPatch, 'currentStep' | 'steps' | 'cursor' | 'retryUsed' | 'nextAttemptAt' | 'callbackTokenHash' | 'escalation' | 'awaitingRole'>;
  events: Omit<NewEvent, 'actor'>[];
  startAttempt?: AttemptRef;
  finishAttempts?: AttemptFinish[];
  /** Set when this commit stops automation: the escalation hook writes the packet with it. */
  escalation?: EscalationInfo;
}

export interface CheckpointHooks {
  /**
   * Runs inside the checkpoint's transaction after the task changed, when the commit stops
   * automation or needs a person (escalation, approval, partial completion): the packet and its
   * outbox rows are written here, so they exist exactly when the state does.
   */
  onStop?(tx: Db, task: TaskRow, commit: CheckpointWrite, now: Date): Promise<void>;
  /**
   * Runs inside the checkpoint's transaction when the task reaches a terminal state (completed,
   * partially_completed, rolled_back, cancelled): open packets of the task are resolved here.
   */
  onFinish?(tx: Db, task: TaskRow, now: Date): Promise<void>;
}


/**
 * Writes one checkpoint under `lease`; LEASE_LOST (nothing written) when the claim no longer
 * holds the task. `writeId` is recorded with it for `writeLanded` (a retry after a lost answer).
 */
export async function writeCheckpoint(
  db: Db,
  opts: {
    taskId: string;
    lease: Lease;
    now: Date;
    commit: CheckpointWrite;
    /** The worker lets go of the task with this checkpoint. */
    release: boolean;
    hooks?: CheckpointHooks;
    writeId?: string;
  },
): Promise<TaskRow> {
  const { commit, now } = opts;
  return db.transaction(async (tx) => {
    if (commit.finishAttempts?.length) {
      for (const f of commit.finishAttempts) await finishAttempt(tx, opts.taskId, f, now);
    }
    if (commit.startAttempt) await startAttempt(tx, opts.taskId, commit.startAttempt, now);
    // The cursor is the orchestrator's; stored as the JSON it is.
    const patch = { ...commit.patch } as TaskPatch;
    if (opts.release) {
      patch.leaseOwner = null;
      patch.leaseExpiresAt = null;
    }
    const task = await applyChange(tx, {
      taskId: opts.taskId,
      now,
      ...(commit.to ? { to: commit.to } : {}),
      expect: { leaseOwner: opts.lease.workerId, leaseEpoch: opts.lease.epoch },
      patch,
      events: commit.events.map((e) => ({
        type: e.type,
        step: e.step ?? null,
        actor: `worker:${opts.lease.workerId}`,
        ...(e.data ? { data: e.data } : {}),
      })),
      ...(opts.writeId ? { writeId: opts.writeId } : {}),
    });
    if (commit.escalation && opts.hooks?.onStop) await opts.hooks.onStop(tx, task, commit, now);
    if (commit.to && isOneOf(FINISHED_STATES, commit.to) && opts.hooks?.onFinish) await opts.hooks.onFinish(tx, task, now);
    return task;
  });
}

async function startAttempt(tx: Db, taskId: string, a: AttemptRef, now: Date): Promise<void> {
  await tx.query(
    `INSERT INTO attempts (task_id, step, kind, attempt, idempotency_key, started_at) VALUES ($1, $2, $3, $4, $5, $6)`,
    [taskId, a.step, a.kind, a.attempt, a.idempotencyKey, now],
    { name: 'rw_attempt_start' },
  );
}

async function finishAttempt(tx: Db, taskId: string, f: AttemptFinish, now: Date): Promise<void> {
  await tx.query(
    `UPDATE attempts SET finished_at = $5, outcome = $6, failure_class = $7, error = $8, duration_ms = $9, result = $10
      WHERE task_id = $1 AND step = $2 AND kind = $3 AND attempt = $4`,
    [taskId, f.step, f.kind, f.attempt, now, f.outcome, f.failureClass, f.error, Math.round(f.durationMs), JSON.stringify(f.result ?? null)],
    { name: 'rw_attempt_finish' },
  );
}

/**
 * Lets go of a task without a decision (the worker is stopping): a running task goes back to
 * `queued` for another worker; a compensating one keeps its state with no lease.
 */
export async function releaseTask(db: Db, opts: { task: TaskRow; lease: Lease; now: Date; why: string; writeId?: string }): Promise<TaskRow> {
  const running = opts.task.state === 'running';
  return applyChange(db, {
    taskId: opts.task.id,
    now: opts.now,
    ...(running ? { to: 'queued' as const } : {}),
    expect: { leaseOwner: opts.lease.workerId, leaseEpoch: opts.lease.epoch },
    patch: { leaseOwner: null, leaseExpiresAt: null },
    events: [{ type: 'lease.released', step: opts.task.currentStep, actor: `worker:${opts.lease.workerId}`, data: { why: opts.why } }],
    ...(opts.writeId ? { writeId: opts.writeId } : {}),
  });
}

/**
 * One run of a schedule: a fire (or an operator's run-now) becomes a task through normal intake,
 * so the runbook's guards and input validation apply as to any request. The fire's row is
 * claimed first in the same transaction, so a fire makes one task however many schedulers try,
 * and the task's `externalRef` is derived from runbook and time, a second key on the same fact.
 * A refused fire keeps its rejected task (intake stores every refusal) and is recorded as such.
 */
import type { FireKind } from '../lifecycle/schedule-vocabulary.js';
import { submitTask, type Rejection } from '../orchestrator/intake.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { claimFire, setFireOutcome, type MissedNote } from '../store/schedules.js';
import { applyChange, type TaskRow } from '../store/tasks.js';

/** The ledger actor (and `requestedBy`) of scheduled runs. */
export const SCHEDULER_ACTOR = 'scheduler';

/** The `externalRef` of a run: `schedule:<runbook>:<ISO time>` (`schedule:<runbook>:run-now:<ISO time>`). */
export function runRef(runbookId: string, at: Date, kind: FireKind): string {
  return `schedule:${runbookId}:${kind === 'run_now' ? 'run-now:' : ''}${at.toISOString()}`;
}

export interface RunContext {
  runbooks: RunbookSet;
  env: Record<string, string>;
  secrets: Record<string, string>;
}

export interface StartRun {
  plan: CompiledRunbook;
  at: Date;
  kind: FireKind;
  now: Date;
  /** Ledger actor: `scheduler`, or `operator:<name>` for run-now. */
  actor: string;
  /** The fire's row exists already as `queued` (it waited behind a run): claim it from there. */
  fromQueue?: boolean;
  /** What the task's `schedule.fired` event records besides the fire (lateness, missed fires, an operator's reason). */
  note?: { lateMs?: number; missed?: MissedNote | null; reason?: string };
}

/** The task a run made (or refused), or undefined when the fire was handled already. */
export async function startRun(tx: Db, ctx: RunContext, r: StartRun): Promise<{ task: TaskRow; rejection?: Rejection } | undefined> {
  const id = r.plan.id;
  const claimed = r.fromQueue
    ? await setFireOutcome(tx, { runbookId: id, fireAt: r.at, kind: r.kind, outcome: 'created', taskId: null, from: 'queued' })
    : await claimFire(tx, { runbookId: id, fireAt: r.at, kind: r.kind, outcome: 'created', now: r.now });
  if (!claimed) return undefined;
  const schedule = r.plan.schedule!;
  const { task, rejection } = await submitTask(
    tx,
    ctx.runbooks,
    { taskClass: r.plan.taskClasses[0], externalRef: runRef(id, r.at, r.kind), requestedBy: r.actor, input: schedule.input },
    { now: r.now, env: ctx.env, secrets: ctx.secrets, actor: r.actor },
  );
  await setFireOutcome(tx, { runbookId: id, fireAt: r.at, kind: r.kind, outcome: rejection ? 'refused' : 'created', taskId: task.id });
  const note = r.note ?? {};
  await applyChange(tx, {
    taskId: task.id,
    now: r.now,
    events: [
      {
        type: 'schedule.fired',
        step: null,
        actor: r.actor,
        data: {
          runbook: id,
          kind: r.kind,
          fireAt: r.at.toISOString(),
          ...(note.lateMs !== undefined ? { lateMs: note.lateMs } : {}),
          ...(r.fromQueue ? { waited: true } : {}),
          ...(note.missed ? { missed: note.missed } : {}),
          ...(note.reason ? { reason: note.reason } : {}),
        },
      },
    ],
  });
  return { task, ...(rejection ? { rejection } : {}) };
}

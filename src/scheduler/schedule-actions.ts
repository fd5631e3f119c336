/**
 * What an operator does to a schedule: pause it, resume it, run it now. One library function
 * each, used by the CLI (and the HTTP API); each needs an operator and a reason and is recorded in
 * the schedule's own ledger with them, in the transaction that makes the change.
 */
import { RunwardenError } from '../errors.js';
import type { EmitContext } from '../escalation/emit.js';
import { cronTimer } from '../runbook/cron.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { changeSchedule, getScheduleRow, goingRun, registerSchedule, type SchedulePatch, type ScheduleRow } from '../store/schedules.js';
import type { TaskRow } from '../store/tasks.js';
import { dueFires } from './fires.js';
import { resolveAlert } from './silent-alert.js';
import { startRun, type RunContext } from './start-run.js';

export interface ScheduleActionContext extends RunContext {
  db: Db;
  runbooks: RunbookSet;
  emit: EmitContext;
  now: Date;
}

export interface ScheduleActionInput {
  operator: string;
  reason: string;
}

/** The loaded runbook `id` with a schedule; RUNBOOK_NOT_FOUND naming the scheduled ones otherwise. */
export function scheduledRunbook(runbooks: RunbookSet, id: string): CompiledRunbook {
  const plan = runbooks.byId.get(id);
  if (plan?.schedule) return plan;
  const scheduled = runbooks.runbooks.filter((r) => r.schedule).map((r) => r.id);
  const what = plan ? `runbook ${id} has no schedule` : `no runbook ${id}`;
  throw new RunwardenError('RUNBOOK_NOT_FOUND', `${what}; scheduled runbooks: ${scheduled.join(', ') || 'none'}`, { details: { runbook: id, scheduled } });
}

function requireWho(input: ScheduleActionInput): void {
  const problems = [];
  if (!input.operator?.trim()) problems.push({ path: 'operator', message: 'who is acting is required (--operator)' });
  if (!input.reason?.trim()) problems.push({ path: 'reason', message: 'why is required (--reason)' });
  if (problems.length) throw new RunwardenError('REQUEST_INVALID', 'a schedule action needs an operator and a reason', { problems });
}

/** Runs `fn` on the schedule's row, locked; a schedule no scheduler has seen yet is registered here. */
async function withSchedule<T>(ctx: ScheduleActionContext, plan: CompiledRunbook, actor: string, fn: (tx: Db, row: ScheduleRow) => Promise<T>): Promise<T> {
  const s = plan.schedule!;
  return ctx.db.transaction(async (tx) => {
    const row = (await getScheduleRow(tx, plan.id, { forUpdate: true })) ?? (await registerSchedule(tx, { runbookId: plan.id, cron: s.cron, timezone: s.timezone, now: ctx.now, actor }));
    return fn(tx, row);
  });
}

/** Pauses the schedule: no fire makes a run until it is resumed, and an open silent-failure packet is resolved. */
export async function pauseSchedule(ctx: ScheduleActionContext, runbookId: string, input: ScheduleActionInput): Promise<ScheduleRow> {
  requireWho(input);
  const plan = scheduledRunbook(ctx.runbooks, runbookId);
  const actor = `operator:${input.operator}`;
  return withSchedule(ctx, plan, actor, async (tx, row) => {
    if (row.paused) {
      throw new RunwardenError('ACTION_NOT_ALLOWED', `schedule ${plan.id} is already paused (by ${row.pausedBy ?? '?'} at ${row.pausedAt?.toISOString() ?? '?'}: ${row.pauseReason ?? ''}); resume it first`, {
        details: { runbook: plan.id, paused: true },
      });
    }
    const out: { patch: SchedulePatch; events: Parameters<typeof changeSchedule>[1]['events'] } = {
      patch: { paused: true, pausedAt: ctx.now, pausedBy: input.operator, pauseReason: input.reason },
      events: [{ type: 'schedule.paused', actor, data: { operator: input.operator, reason: input.reason } }],
    };
    // A paused schedule is meant to be quiet: its silence is no longer news.
    await resolveAlert(tx, ctx.emit, { row, now: ctx.now, actor, data: { why: 'the schedule was paused' } }, out);
    return (await changeSchedule(tx, { runbookId: plan.id, now: ctx.now, ...out }))!;
  });
}

/**
 * Resumes a paused schedule. Fires passed over while it was paused are not caught up (the event
 * says how many), and the silence window counts from now.
 */
export async function resumeSchedule(ctx: ScheduleActionContext, runbookId: string, input: ScheduleActionInput): Promise<ScheduleRow> {
  requireWho(input);
  const plan = scheduledRunbook(ctx.runbooks, runbookId);
  const s = plan.schedule!;
  const actor = `operator:${input.operator}`;
  return withSchedule(ctx, plan, actor, async (tx, row) => {
    if (!row.paused) throw new RunwardenError('ACTION_NOT_ALLOWED', `schedule ${plan.id} is not paused`, { details: { runbook: plan.id, paused: false } });
    const passed = dueFires(cronTimer(s.cron, s.timezone), row.cursorAt, ctx.now);
    return (await changeSchedule(tx, {
      runbookId: plan.id,
      now: ctx.now,
      patch: { paused: false, pausedAt: null, pausedBy: null, pauseReason: null, cursorAt: ctx.now, watchSince: ctx.now },
      events: [
        {
          type: 'schedule.resumed',
          actor,
          data: {
            operator: input.operator,
            reason: input.reason,
            pausedSince: row.pausedAt?.toISOString() ?? null,
            passedOver: passed.count,
            ...(passed.more ? { passedOverMore: true } : {}),
          },
        },
      ],
    }))!;
  });
}

/**
 * Runs the schedule now, with its input, through intake, outside the timer (a paused schedule
 * too). The overlap policy holds: unless it is `allow`, a run still going refuses a second.
 */
export async function runScheduleNow(ctx: ScheduleActionContext, runbookId: string, input: ScheduleActionInput): Promise<TaskRow> {
  requireWho(input);
  const plan = scheduledRunbook(ctx.runbooks, runbookId);
  const s = plan.schedule!;
  const actor = `operator:${input.operator}`;
  return withSchedule(ctx, plan, actor, async (tx) => {
    const going = s.overlap === 'allow' ? undefined : await goingRun(tx, plan.id);
    if (going) {
      throw new RunwardenError('ACTION_NOT_ALLOWED', `a run of ${plan.id} is still going (${going.id}, ${going.state}) and its overlap policy is ${s.overlap}: wait for it to end, or cancel it`, {
        details: { runbook: plan.id, going: going.id, state: going.state, overlap: s.overlap },
      });
    }
    const run = await startRun(tx, ctx, { plan, at: ctx.now, kind: 'run_now', now: ctx.now, actor, note: { reason: input.reason } });
    if (!run) throw new RunwardenError('ACTION_NOT_ALLOWED', `a run-now of ${plan.id} was made at this very time already; try again`, { details: { runbook: plan.id } });
    await changeSchedule(tx, {
      runbookId: plan.id,
      now: ctx.now,
      events: [{ type: 'schedule.run_now', actor, data: { operator: input.operator, reason: input.reason, taskId: run.task.id, ...(run.rejection ? { refused: run.rejection } : {}) } }],
    });
    return run.task;
  });
}

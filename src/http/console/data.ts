/**
 * What the console pages read, through the store's functions only, shaped into the plain data
 * of model.ts. Everything shown passes a masker: the task view masks sensitive inputs and the
 * deployment's secrets; packets were masked when written and are masked again here; attempts
 * are masked with the task's own masker (its sensitive input values by value).
 */
import { packetNow } from '../../escalation/packet-now.js';
import { readPacket, type Packet } from '../../escalation/packet-schema.js';
import { actionsAllowedFrom } from '../../lifecycle/transitions.js';
import type { TaskState } from '../../lifecycle/vocabulary.js';
import type { IntakeRunbooks } from '../../orchestrator/intake.js';
import { runbookOf } from '../../orchestrator/runbook-version.js';
import type { Masker } from '../../secrets/mask.js';
import { taskMasker } from '../../secrets/sensitive.js';
import { concurrencyWait, concurrencyWaits } from '../../store/claim.js';
import type { Db } from '../../store/db.js';
import { listEventsOfType } from '../../store/events.js';
import { listIntakePage } from '../../store/intake-log.js';
import { latestPacket } from '../../store/packets.js';
import { countTasksByState } from '../../store/task-counts.js';
import { listTaskPage } from '../../store/task-page.js';
import { sensitivePaths, summarizeTask, taskView } from '../../store/task-view.js';
import { getTask, listAttempts, listEvents, type TaskRow } from '../../store/tasks.js';
import type { BrokenRunbook, Inbox, InboxItem, IntakeFilters, IntakeLog, TaskFilters, TaskListRow, TaskPage } from './model.js';
import { runbookLine, stepInfo } from './runbooks-page.js';

/** How many tasks each inbox list reads at most. */
export const INBOX_LIMIT = 200;

export interface ReadContext {
  db: Db;
  runbooks: IntakeRunbooks;
  masker: Masker;
}

async function packetOf(c: ReadContext, taskId: string): Promise<Packet | null> {
  const row = await latestPacket(c.db, taskId);
  return row ? c.masker.maskValue(readPacket(row.body)) : null;
}

async function inboxItem(c: ReadContext, t: TaskRow): Promise<InboxItem> {
  const pk = await packetOf(c, t.id);
  const current = pk && pk.state === t.state ? pk : null;
  let takenOverBy: string | null = null;
  if (t.state === 'in_handover') {
    const took = (await listEvents(c.db, t.id)).filter((e) => e.type === 'operator.action' && e.data.action === 'takeover').at(-1);
    takenOverBy = took ? String(took.data.operator ?? took.actor) : null;
  }
  const esc = t.escalation;
  return {
    task: c.masker.maskValue(summarizeTask(t)),
    since: current?.createdAt ?? esc?.at ?? t.updatedAt.toISOString(),
    reason: current ? current.reason : esc ? { kind: esc.kind, failureClass: esc.failureClass, step: esc.step, message: c.masker.maskString(esc.message) } : null,
    summary: current?.summary ?? null,
    severity: current?.severity ?? pk?.severity ?? null,
    route: current?.route ?? pk?.route ?? null,
    recommended: current ? { action: current.recommendation.action, why: current.recommendation.why } : null,
    takenOverBy,
  };
}

const newestFirst = (a: InboxItem, b: InboxItem) => b.since.localeCompare(a.since) || a.task.id.localeCompare(b.task.id);

async function itemsIn(c: ReadContext, state: TaskState): Promise<InboxItem[]> {
  const { tasks: rows } = await listTaskPage(c.db, { states: [state], limit: INBOX_LIMIT });
  const items: InboxItem[] = [];
  for (const t of rows) items.push(await inboxItem(c, t));
  return items.sort(newestFirst);
}

/** The inbox: escalated, taken over, and awaiting approval, each newest first. */
export async function readInbox(c: ReadContext): Promise<Inbox> {
  return { escalated: await itemsIn(c, 'escalated'), inHand: await itemsIn(c, 'in_handover'), approvals: await itemsIn(c, 'awaiting_approval') };
}

/** How many tasks wait for a person (escalated), for the navigation. */
export async function waitingCount(c: ReadContext): Promise<number> {
  return (await countTasksByState(c.db)).escalated ?? 0;
}

/**
 * A page of the task list, each task with what it waits for. The concurrency waits of the page
 * are read in one query; a key is the value of an expression over the input, so a waiting row is
 * masked with its task's own masker (its sensitive inputs by value), as the task page is.
 */
export async function readTaskList(c: ReadContext, f: TaskFilters): Promise<{ tasks: TaskListRow[]; counts: Partial<Record<TaskState, number>>; nextCursor: string | null }> {
  const { tasks: rows, nextCursor } = await listTaskPage(c.db, {
    limit: f.limit,
    ...(f.state ? { states: [f.state] } : {}),
    ...(f.runbook ? { runbook: f.runbook } : {}),
    ...(f.taskClass ? { taskClass: f.taskClass } : {}),
    ...(f.cursor ? { cursor: f.cursor } : {}),
  });
  const waits = await concurrencyWaits(c.db, rows);
  const accepted = waits.size ? await listEventsOfType(c.db, [...waits.keys()], 'intake.accepted') : new Map<string, never[]>();
  const tasks = rows.map((t): TaskListRow => {
    const w = waits.get(t.id);
    const masker = w ? taskMasker(c.masker, t.input, sensitivePaths(t.runbookId ? c.runbooks.byId.get(t.runbookId) : undefined, accepted.get(t.id) ?? [])) : c.masker;
    return masker.maskValue({
      ...summarizeTask(t),
      leaseOwner: t.leaseOwner,
      awaitingRole: t.awaitingRole,
      waitingFor: w ? { concurrencyKey: w.key, limit: w.limit, holders: w.holders } : null,
    });
  });
  const counts = await countTasksByState(c.db, { ...(f.runbook ? { runbook: f.runbook } : {}), ...(f.taskClass ? { taskClass: f.taskClass } : {}) });
  return { tasks, counts, nextCursor };
}

/** Everything the task page shows, or undefined when there is no such task. */
export async function readTaskPage(c: ReadContext, ref: string): Promise<TaskPage | undefined> {
  const task = await getTask(c.db, ref);
  if (!task) return undefined;
  const events = await listEvents(c.db, task.id);
  // The version the task runs on (it may differ from the folder's), as the actions use.
  const plan = await runbookOf(c.db, c.runbooks, task).catch(() => undefined);
  const wait = await concurrencyWait(c.db, task);
  const view = taskView(task, events, plan, { masker: c.masker, ...(wait ? { waitingFor: { concurrencyKey: wait.key, limit: wait.limit, holders: wait.holders } } : {}) });
  const own = taskMasker(c.masker, task.input, sensitivePaths(plan, events));
  const pk = await packetOf(c, task.id);
  const attempts = (await listAttempts(c.db, task.id)).map((a) =>
    own.maskValue({
      step: a.step,
      kind: a.kind,
      attempt: a.attempt,
      startedAt: a.startedAt.toISOString(),
      durationMs: a.durationMs,
      outcome: a.outcome,
      failureClass: a.failureClass,
      error: a.error,
    }),
  );
  return {
    view,
    packet: pk ? own.maskValue(pk) : null,
    packetNow: pk ? packetNow(pk, task, events) : undefined,
    attempts,
    plan: plan ? stepInfo(plan) : [],
    allowed: actionsAllowedFrom(task.state),
  };
}

/** The loaded runbooks, and the files that did not load with their problems. */
export function readRunbooks(runbooks: IntakeRunbooks) {
  const lines = [...runbooks.runbooks].sort((a, b) => a.id.localeCompare(b.id)).map(runbookLine);
  const byFile = new Map<string, BrokenRunbook>();
  for (const [taskClass, u] of runbooks.unavailable ?? []) {
    const b = byFile.get(u.file) ?? { file: u.file, id: u.id ?? null, taskClasses: [], problems: u.problems };
    b.taskClasses.push(taskClass);
    byFile.set(u.file, b);
  }
  return { lines, broken: [...byFile.values()].sort((a, b) => a.file.localeCompare(b.file)) };
}

/**
 * A page of the intake log, newest first, masked as `runwarden intake log` masks it (a reason
 * can quote what a sender posted), with the configured sources for the filter.
 */
export async function readIntakeLog(c: ReadContext, sources: Readonly<Record<string, { type: string }>>, f: IntakeFilters): Promise<IntakeLog> {
  const { events, nextCursor } = await listIntakePage(c.db, { limit: f.limit, ...(f.source ? { source: f.source } : {}), ...(f.cursor ? { cursor: f.cursor } : {}) });
  return {
    events: events.map((e) => c.masker.maskValue({ ...e, receivedAt: e.receivedAt.toISOString() })),
    sources: Object.entries(sources)
      .map(([name, s]) => ({ name, type: s.type }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    nextCursor,
  };
}

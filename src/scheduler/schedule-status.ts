/**
 * How each schedule stands, as `runwarden schedules` (and the console) show it: cron and time
 * zone, the last and next fire, the last success, the health and why, and for one schedule its
 * recent fires and its ledger. Read only; JSON-ready (ISO times).
 */
import type { FireKind, FireOutcome, ScheduleEventType, ScheduleHealth } from '../lifecycle/schedule-vocabulary.js';
import { cronTimer } from '../runbook/cron.js';
import { formatDuration } from '../runbook/duration.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { getScheduleRow, lastCompletedRun, latestRun, listFires, listScheduleEvents } from '../store/schedules.js';
import { scheduleHealth, runState } from './health.js';
import { scheduledRunbook } from './schedule-actions.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** One schedule as listed. */
export interface ScheduleStatus {
  runbook: string;
  cron: string;
  timezone: string;
  overlap: string;
  missed: string;
  /** `1h`, or null when not watched. */
  expectSuccessWithin: string | null;
  health: ScheduleHealth;
  why: string;
  paused: { by: string | null; at: string | null; reason: string | null } | null;
  lastFire: { at: string; kind: FireKind; outcome: FireOutcome; taskId: string | null } | null;
  nextFire: string | null;
  lastSuccess: { taskId: string; at: string } | null;
  latestRun: { taskId: string; state: string; summary: string } | null;
  /** The open silent-failure packet. */
  alert: { packetId: string; since: string | null } | null;
  /** When a silent-failure packet goes out unless a run completes first. */
  silentAt: string | null;
}

/** One schedule with its recent fires and ledger (`runwarden schedule show`). */
export interface ScheduleDetail extends ScheduleStatus {
  fires: Array<{ at: string; kind: FireKind; outcome: FireOutcome; taskId: string | null }>;
  events: Array<{ seq: number; at: string; type: ScheduleEventType; actor: string; data: Record<string, unknown> }>;
}

async function statusOf(db: Db, plan: CompiledRunbook, now: Date): Promise<ScheduleStatus> {
  const s = plan.schedule!;
  const [row, fires, latest, last] = [await getScheduleRow(db, plan.id), await listFires(db, plan.id, { limit: 1 }), await latestRun(db, plan.id), await lastCompletedRun(db, plan.id)];
  const latestFire = fires[0];
  const v = scheduleHealth({ schedule: s, timer: cronTimer(s.cron, s.timezone), row, latestFire, latestRun: latest, lastSuccess: last, now });
  return {
    runbook: plan.id,
    cron: s.cron,
    timezone: s.timezone,
    overlap: s.overlap,
    missed: s.missed,
    expectSuccessWithin: s.expectSuccessWithinMs !== undefined ? formatDuration(s.expectSuccessWithinMs) : null,
    health: v.health,
    why: v.why,
    paused: row?.paused ? { by: row.pausedBy, at: iso(row.pausedAt), reason: row.pauseReason } : null,
    lastFire: latestFire ? { at: latestFire.fireAt.toISOString(), kind: latestFire.kind, outcome: latestFire.outcome, taskId: latestFire.taskId } : null,
    nextFire: row?.paused ? null : iso(v.nextFireAt),
    lastSuccess: last ? { taskId: last.id, at: last.updatedAt.toISOString() } : null,
    latestRun: latest ? { taskId: latest.id, state: latest.state, summary: runState(latest) } : null,
    alert: row?.alertPacketId ? { packetId: row.alertPacketId, since: iso(row.alertSince) } : null,
    silentAt: row?.alertPacketId || row?.paused ? null : iso(v.silentAt),
  };
}

/** Every loaded schedule, in runbook order. */
export async function scheduleStatuses(db: Db, runbooks: RunbookSet, now: Date): Promise<ScheduleStatus[]> {
  const out: ScheduleStatus[] = [];
  for (const plan of runbooks.runbooks) if (plan.schedule) out.push(await statusOf(db, plan, now));
  return out;
}

/** One schedule with its newest `limit` fires and ledger events (default 20 and 50). */
export async function scheduleDetail(db: Db, runbooks: RunbookSet, runbookId: string, now: Date, o: { fires?: number; events?: number } = {}): Promise<ScheduleDetail> {
  const plan = scheduledRunbook(runbooks, runbookId);
  const status = await statusOf(db, plan, now);
  const fires = await listFires(db, plan.id, { limit: o.fires ?? 20 });
  const events = await listScheduleEvents(db, plan.id, { limit: o.events ?? 50 });
  return {
    ...status,
    fires: fires.map((f) => ({ at: f.fireAt.toISOString(), kind: f.kind, outcome: f.outcome, taskId: f.taskId })),
    events: events.map((e) => ({ seq: e.seq, at: e.at.toISOString(), type: e.type, actor: e.actor, data: e.data })),
  };
}

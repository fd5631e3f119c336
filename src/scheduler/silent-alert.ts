/**
 * The silent-failure packet of a schedule: raised once when no run completed in the expected
 * window, resolved when one does (or an operator pauses the schedule), through the same packets,
 * outbox and sinks as a task's escalation.
 *
 * Where the packet hangs: packets belong to a task, and this one belongs to the schedule's latest
 * run, whatever became of it (escalated, refused, still running): that run is where a responder
 * starts, and its ledger records the packet. It is the schedule's alert all the same, and kept
 * apart from the run's own: `schedules.alert_packet_id` is the one open alert (so it is raised
 * once, however long the silence and however many runs escalate meanwhile), only the scheduler
 * resolves it (a run closing does not: escalation/hooks.ts passes it over), and the sinks key it
 * by the schedule (PagerDuty's `dedup_key` is `schedule:<runbook>`), so it neither merges with
 * nor closes the run's own incident.
 */
import { emitPacket, resolveOpen, type EmitContext } from '../escalation/emit.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { getPacket } from '../store/packets.js';
import { lastCompletedRun, latestRun, type NewScheduleEvent, type SchedulePatch, type ScheduleRow } from '../store/schedules.js';
import type { EscalationInfo } from '../store/tasks.js';
import { runState } from './health.js';
import { cronTimer } from '../runbook/cron.js';
import { silenceMessage, silenceOf, type Silence } from './silence.js';
import { SCHEDULER_ACTOR } from './start-run.js';

export interface AlertChange {
  patch: SchedulePatch;
  events: NewScheduleEvent[];
  silence: Silence;
}

/**
 * Looks at the schedule's silence now and raises or resolves its packet, in `tx` (the schedule's
 * row locked by the caller). A paused schedule raises nothing.
 */
export async function watchSilence(tx: Db, emit: EmitContext, a: { plan: CompiledRunbook; row: ScheduleRow; now: Date }): Promise<AlertChange> {
  const schedule = a.plan.schedule!;
  const out: AlertChange = { patch: {}, events: [], silence: { silent: false, firstDue: null, deadline: null } };
  if (schedule.expectSuccessWithinMs === undefined) {
    if (a.row.alertPacketId) await resolveAlert(tx, emit, { row: a.row, now: a.now, data: { why: 'the runbook no longer sets expectSuccessWithin' } }, out);
    return out;
  }
  const windowMs = schedule.expectSuccessWithinMs;
  const last = await lastCompletedRun(tx, a.plan.id);
  const silence = silenceOf({ timer: cronTimer(schedule.cron, schedule.timezone), windowMs, watchSince: a.row.watchSince, lastSuccessAt: last?.updatedAt ?? null, now: a.now });
  out.silence = silence;
  if (silence.silent && silence.firstDue && !a.row.alertPacketId && !a.row.paused) {
    // No run at all to hang it on (down since before the first fire): raised with the first run.
    const anchor = await latestRun(tx, a.plan.id);
    if (!anchor) return out;
    const message = silenceMessage({ windowMs, firstDue: silence.firstDue, lastSuccessAt: last?.updatedAt ?? null, latest: `${anchor.id}, is ${runState(anchor)}` });
    const reason: EscalationInfo = { kind: 'silent_failure', failureClass: null, step: null, message, at: a.now.toISOString() };
    const packet = await emitPacket(tx, emit, { task: anchor, plan: a.plan, now: a.now, reason });
    out.patch = { alertPacketId: packet.packetId, alertSince: a.now };
    out.events.push({
      type: 'silent_failure',
      actor: SCHEDULER_ACTOR,
      data: {
        packetId: packet.packetId,
        taskId: anchor.id,
        route: packet.route,
        firstDue: silence.firstDue.toISOString(),
        deadline: silence.deadline!.toISOString(),
        lastSuccess: last ? { taskId: last.id, at: last.updatedAt.toISOString() } : null,
        message,
      },
    });
  } else if (!silence.silent && a.row.alertPacketId) {
    await resolveAlert(tx, emit, { row: a.row, now: a.now, data: last ? { by: last.id, completedAt: last.updatedAt.toISOString() } : {} }, out);
  }
  return out;
}

/** Resolves the schedule's open packet (a `resolve` to each sink that got it) and records why. */
export async function resolveAlert(tx: Db, emit: EmitContext, a: { row: ScheduleRow; now: Date; actor?: string; data: Record<string, unknown> }, out: Pick<AlertChange, 'patch' | 'events'>): Promise<void> {
  const packetId = a.row.alertPacketId;
  if (!packetId) return;
  const packet = await getPacket(tx, packetId);
  if (packet) await resolveOpen(tx, emit, { taskId: packet.taskId, now: a.now, which: (p) => p.id === packetId });
  out.patch.alertPacketId = null;
  out.patch.alertSince = null;
  out.events.push({ type: 'silent_failure.resolved', actor: a.actor ?? SCHEDULER_ACTOR, data: { packetId, ...a.data } });
}

/**
 * Packets in the transactions that change a task: emit one (stored with its outbox rows and a
 * `packet.emitted` event), refresh the open ones after a takeover, resolve them when the task
 * leaves the escalation (with `resolve` rows for the sinks that understand one).
 */
import type { DeploymentConfig } from '../config/index.js';
import type { EscalationInfo } from '../store/tasks.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import type { Masker } from '../secrets/mask.js';
import { newId } from '../ids.js';
import type { Db } from '../store/db.js';
import { enqueueDeliveries, triggerSinks } from '../store/outbox.js';
import { insertPacket, openPackets, resolvePackets, updatePacketBody, type PacketRow } from '../store/packets.js';
import { applyChange, listAttempts, listEvents, type TaskRow } from '../store/tasks.js';
import { buildPacket } from './build-packet.js';
import { PacketSchema, type Packet } from './packet-schema.js';
import { RESOLVE_SINK_TYPES } from './sink-payloads.js';

export interface EmitContext {
  config: DeploymentConfig;
  masker: Masker;
  /** Base URL for `links.task`. Default: none. */
  publicUrl?: string;
}

async function build(tx: Db, ctx: EmitContext, task: TaskRow, plan: CompiledRunbook | undefined, packetId: string, now: Date, reason?: EscalationInfo): Promise<Packet> {
  const base = { packetId, now, task, plan, masker: ctx.masker, ...(reason ? { reason } : {}), ...(ctx.publicUrl ? { publicUrl: ctx.publicUrl } : {}) };
  const events = await listEvents(tx, task.id);
  const attempts = await listAttempts(tx, task.id);
  // Checked against the schema before it is stored. A builder bug (a throw, or a packet the
  // schema refuses) must not stop the escalation itself: the transaction would roll back and the
  // task run on. A packet from the task alone still tells the responder why and what next.
  try {
    const full = buildPacket({ ...base, events, attempts });
    if (PacketSchema.safeParse(full).success) return full;
  } catch {
    // fall through to the packet without the ledger
  }
  return buildPacket({ ...base, events: [], attempts: [] });
}

/**
 * True for a schedule's silent-failure packet (scheduler/silent-alert.ts). It hangs on the
 * schedule's latest run but is the schedule's: only the scheduler resolves it (when a run
 * completes again), so what its run does (closed, taken over) neither resolves nor rewrites it.
 */
export function isScheduleAlert(p: Pick<PacketRow, 'reason'>): boolean {
  return p.reason === 'silent_failure';
}

/** The configured sinks of a route (names not in the config are skipped: config checks flag them). */
export function sinksOf(config: DeploymentConfig, route: string): string[] {
  return config.sinksForRoute(route).filter((name) => config.sinks[name] !== undefined);
}

/**
 * Builds and stores the task's packet with one outbox row per sink of its route, and records
 * `packet.emitted`, all in `tx`. Returns the packet.
 */
export async function emitPacket(
  tx: Db,
  ctx: EmitContext,
  a: { task: TaskRow; plan: CompiledRunbook | undefined; now: Date; reason?: EscalationInfo; /** Deliver to this route, not the reason's (a re-escalation). */ route?: string },
): Promise<Packet> {
  const built = await build(tx, ctx, a.task, a.plan, newId('pkt'), a.now, a.reason);
  const packet = a.route ? { ...built, route: a.route } : built;
  await insertPacket(tx, { id: packet.packetId, taskId: a.task.id, createdAt: a.now, reason: packet.reason.kind, route: packet.route, body: packet });
  const sinks = sinksOf(ctx.config, packet.route);
  await enqueueDeliveries(tx, sinks.map((sink) => ({ packetId: packet.packetId, taskId: a.task.id, sink, kind: 'trigger' as const })), a.now);
  await applyChange(tx, {
    taskId: a.task.id,
    now: a.now,
    events: [
      {
        type: 'packet.emitted',
        step: packet.reason.step,
        actor: 'escalation',
        data: { packetId: packet.packetId, reason: packet.reason.kind, route: packet.route, severity: packet.severity, sinks, role: 'escalation' },
      },
    ],
  });
  return packet;
}

/**
 * Resolves the task's open packets that `which` selects (default: all) and queues a `resolve` for
 * each sink that got the packet and understands one. Returns the resolved packet ids.
 */
export async function resolveOpen(tx: Db, ctx: EmitContext, a: { taskId: string; now: Date; which?: (p: PacketRow) => boolean }): Promise<string[]> {
  const open = (await openPackets(tx, a.taskId)).filter(a.which ?? (() => true));
  const resolved = await resolvePackets(tx, open.map((p) => p.id), a.now);
  for (const packetId of resolved) {
    const sinks = (await triggerSinks(tx, packetId)).filter((name) => {
      const sink = ctx.config.sinks[name];
      return sink !== undefined && RESOLVE_SINK_TYPES.has(sink.type);
    });
    await enqueueDeliveries(tx, sinks.map((sink) => ({ packetId, taskId: a.taskId, sink, kind: 'resolve' as const })), a.now);
  }
  return resolved;
}

/**
 * Rebuilds the bodies of the task's open packets from the record as it is now (same id and
 * time), so `runwarden packet` shows the state and actions an operator has after a takeover.
 * The sinks are not told: nothing they should act on changed.
 */
export async function refreshOpen(tx: Db, ctx: EmitContext, a: { task: TaskRow; plan: CompiledRunbook | undefined }): Promise<void> {
  for (const row of (await openPackets(tx, a.task.id)).filter((p) => !isScheduleAlert(p))) {
    const old = row.body as Partial<Packet>;
    const reason = old.reason ? { ...old.reason, at: row.createdAt.toISOString() } : undefined;
    const fresh = await build(tx, ctx, a.task, a.plan, row.id, row.createdAt, reason);
    // The route and severity stay those the packet was sent with.
    await updatePacketBody(tx, row.id, { ...fresh, route: old.route ?? fresh.route, severity: old.severity ?? fresh.severity, recommendation: keptAdvice(old.recommendation, fresh.recommendation) });
  }
}

/**
 * The fresh recommendation with the model's advice carried over: kept while the rule text it
 * rewords is unchanged, else null (still "asked", so the model is not asked again about a packet
 * already sent, and no advice stands beside a rule text it was not written for).
 */
function keptAdvice(old: Packet['recommendation'] | undefined, fresh: Packet['recommendation']): Packet['recommendation'] {
  if (!old || old.advice === undefined) return fresh;
  const same = old.why === fresh.why && old.action === fresh.action;
  return { ...fresh, advice: same ? old.advice : null };
}

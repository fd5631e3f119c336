/**
 * A packet is written when its task stops and kept as it was sent; the task moves on (an operator
 * skips the step, a resume completes it). Shown later, a packet must say so, or a responder acts on
 * "Allowed now: takeover, resume, retry…" for a task that is long closed. This reads, from the
 * ledger, what became of the task since: its state now, since when, who moved it and how.
 */
import type { OperatorAction, TaskState } from '../lifecycle/vocabulary.js';
import { actionsAllowedFrom } from '../lifecycle/transitions.js';
import type { EventRow } from '../store/events.js';
import type { Packet } from './packet-schema.js';

/** What became of a packet's task after the packet was written. */
export interface PacketNow {
  /** The task's state now (differs from the packet's). */
  state: TaskState;
  /** When it got there (ISO). */
  since: string;
  /** The actor of that move: `operator:ana`, `worker:wrk_…`. */
  by: string;
  /** The last operator action since the packet (what set the task moving), with who and why. */
  action?: { name: string; operator: string; reason: string };
  /** What an operator may do now. */
  allowed: OperatorAction[];
}

/**
 * What became of the task since the packet, or undefined while the task is still in the state
 * the packet shows (the packet is current).
 */
export function packetNow(packet: Pick<Packet, 'state' | 'createdAt'>, task: { state: TaskState }, events: readonly EventRow[]): PacketNow | undefined {
  if (packet.state === task.state) return undefined;
  const last = events.filter((e) => e.type === 'state.changed').at(-1);
  // A worker may make the last move (a skip hands the task back, a worker completes it): the
  // operator action since the packet says what set it going.
  const written = Date.parse(packet.createdAt);
  const op = events.filter((e) => e.type === 'operator.action' && !(e.at.getTime() < written)).at(-1);
  const action = op ? { name: String(op.data.action ?? ''), operator: String(op.data.operator ?? op.actor), reason: String(op.data.reason ?? '') } : undefined;
  return {
    state: task.state,
    since: last ? last.at.toISOString() : '',
    by: last?.actor ?? 'unknown',
    ...(action ? { action } : {}),
    allowed: actionsAllowedFrom(task.state),
  };
}

/** One line for stderr beside a JSON packet: what became of its task since. */
export function packetNowLine(packet: Pick<Packet, 'state' | 'createdAt'>, now: PacketNow): string {
  const how = now.action ? `, after ${now.action.name} by ${now.action.operator} (${now.action.reason})` : '';
  return `this packet is from ${packet.createdAt}, when the task was ${packet.state}; the task is ${now.state} now, since ${now.since || 'an unknown time'}, by ${now.by}${how}`;
}

/**
 * The scenarios the fault-point recovery tests crash in, shared by the in-process tests
 * (fault-points.test.ts) and the ones that kill a real worker process (fault-kill.test.ts).
 */
import type { FaultPoint } from '../../src/fault-points.js';
import type { Effect, Sim } from '../../src/sim/index.js';


export interface FaultCase {
  point: FaultPoint;
  /** The scenario it is met in. */
  name: string;
  /** The step the point is armed for. */
  step: string;
  arrange(s: Sim, tag: string): void;
  taskClass: string;
  input(tag: string): Record<string, unknown>;
  /** The state the task ends in, crash or not. */
  ends: string;
  /** Effects the API must have applied exactly once (kind -> count). */
  effects: Record<string, number>;
  /** The takeover finds an attempt in doubt. */
  inDoubt: boolean;
  /** The crash leaves something to take over (false: it came after the task's last write). */
  takeover: boolean;
}

const restart = (point: FaultPoint, inDoubt: boolean, takeover = true): FaultCase => ({
  point,
  name: 'a keyed restart',
  step: 'restart',
  arrange: (s, tag) => s.setService(tag, { status: 'degraded' }),
  taskClass: 't.restart',
  input: (tag) => ({ service: tag }),
  ends: 'completed',
  effects: { 'service.restart': 1 },
  inDoubt,
  takeover,
});
const charge = (point: FaultPoint, inDoubt: boolean, takeover = true): FaultCase => ({
  point,
  name: 'a once charge with a probe',
  step: 'charge',
  arrange: () => undefined,
  taskClass: 't.charge',
  input: (tag) => ({ order: tag, amount: 5 }),
  ends: 'completed',
  effects: { 'billing.charge.create': 1 },
  inDoubt,
  takeover,
});
const rollback = (point: FaultPoint, inDoubt: boolean, takeover = true): FaultCase => ({
  point,
  name: 'undoing an invoice during a rollback',
  step: 'invoice',
  // Provisioning refuses for good: the account and invoice are undone, newest first.
  arrange: (s) => s.fault({ method: 'POST', path: '/provisioning/tenants', status: 409, times: -1 }),
  taskClass: 't.onboard',
  input: (tag) => ({ customer: tag, plan: 'pro' }),
  ends: 'rolled_back',
  effects: { 'crm.account.create': 1, 'billing.invoice.create': 1, 'billing.invoice.void': 1, 'crm.account.delete': 1 },
  inDoubt,
  takeover,
});

// A checkpoint records the outcome of one attempt and the start of the next at once, so a
// crash before it leaves the previous attempt open too (in doubt for the next claimer).
export const DRIVER_CASES: FaultCase[] = [
  restart('attempt.before-start', true), // check-health's outcome was in the lost checkpoint
  restart('attempt.after-start', true),
  restart('attempt.before-outcome', true),
  restart('attempt.after-outcome', true), // the verification it started is open
  charge('attempt.before-start', false),
  charge('attempt.after-start', true),
  charge('attempt.before-outcome', true),
  charge('attempt.after-outcome', false, false), // that checkpoint completed the task
  rollback('compensation.before-start', true), // provisioning's failure was in the lost checkpoint
  rollback('compensation.after-start', true),
  rollback('compensation.before-outcome', true),
  rollback('compensation.after-outcome', true), // the next undo it started is open
];


/**
 * The effects one case caused, counted by kind, when several cases share the simulated API: those
 * that name its tag (a service, an order, a customer), then, transitively, those that name an id
 * one of them created (the account an invoice is for, the invoice a void undoes).
 */
export function effectsFor(effects: readonly Effect[], tag: string): Record<string, number> {
  const names = new Set([tag]);
  const mine = new Set<Effect>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of effects) {
      if (mine.has(e)) continue;
      const text = `${e.path} ${JSON.stringify(e.body ?? null)}`;
      if (![...names].some((n) => text.includes(n))) continue;
      mine.add(e);
      if (e.id) names.add(e.id);
      grew = true;
    }
  }
  const counts: Record<string, number> = {};
  for (const e of mine) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  return counts;
}

/**
 * Named fault points at the commit boundaries of the worker, the driver and the outbox, so tests
 * can crash runwarden exactly between two durable writes and prove that recovery neither loses
 * nor repeats anything (modelled on DBOS's debug points).
 *
 * A point is armed in one of two ways:
 * - in-process, by a test: `armFault('attempt.after-start', { mode: 'throw', step: 'charge' })`;
 *   the point throws an InjectedFault, which the worker treats as the crash of that one driver:
 *   it writes nothing more for the task and leaves it to its lease, as a dead process would;
 * - in a child process, by the environment: `RUNWARDEN_FAULT=attempt.after-start@charge:kill`
 *   (several separated by commas; the mode defaults to `kill`); the process SIGKILLs itself when
 *   it reaches the point.
 *
 * Unarmed, a point costs one comparison. An unknown point name in RUNWARDEN_FAULT stops the
 * process at start rather than never firing.
 */

/** Every fault point, in the order a task meets them. */
export const FAULT_POINTS = [
  /** The worker is about to claim (nothing claimed yet). */
  'claim.before',
  /** A claim committed; no driver has started for it. */
  'claim.after',
  /** An attempt (action, probe, verification, refresh) is decided; its start is not recorded. */
  'attempt.before-start',
  /** Its start is recorded; the action has not been sent. */
  'attempt.after-start',
  /** The action returned; its outcome is not recorded. */
  'attempt.before-outcome',
  /** Its outcome is recorded. */
  'attempt.after-outcome',
  /** The same four for a compensation (an undo step during a rollback). */
  'compensation.before-start',
  'compensation.after-start',
  'compensation.before-outcome',
  'compensation.after-outcome',
  /** An outbox row is claimed; the packet is not sent. */
  'delivery.before-send',
  /** The sink answered; the outcome is not recorded. */
  'delivery.after-send',
  /** The delivery's outcome is recorded. */
  'delivery.after-record',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export type FaultMode = 'throw' | 'kill';

/** What an in-process fault point throws. Not a RunwardenError: it stands for a crash, not a refusal. */
export class InjectedFault extends Error {
  readonly isInjectedFault = true as const;
  constructor(readonly point: FaultPoint) {
    super(`injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

export function isInjectedFault(err: unknown): err is InjectedFault {
  return typeof err === 'object' && err !== null && (err as { isInjectedFault?: unknown }).isInjectedFault === true;
}

interface Armed {
  point: FaultPoint;
  mode: FaultMode;
  /** Only where this step is concerned. */
  step?: string;
  /** Firings left; Infinity for always. */
  left: number;
}

/** null when nothing is armed: the common case, checked first and alone. */
let armed: Armed[] | null = null;

function known(point: string): point is FaultPoint {
  return (FAULT_POINTS as readonly string[]).includes(point);
}

/** Parses RUNWARDEN_FAULT: `point[@step][:throw|kill]`, comma-separated. */
export function parseFaultSpec(spec: string): Armed[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^([a-z.-]+)(?:@([^:]+))?(?::(throw|kill))?$/.exec(entry);
      if (!m || !known(m[1]!)) {
        throw new Error(`RUNWARDEN_FAULT: ${JSON.stringify(entry)} is not <point>[@<step>][:throw|kill]; points: ${FAULT_POINTS.join(', ')}`);
      }
      return { point: m[1] as FaultPoint, mode: (m[3] as FaultMode | undefined) ?? 'kill', ...(m[2] ? { step: m[2] } : {}), left: Infinity };
    });
}

const fromEnv = process.env.RUNWARDEN_FAULT;
if (fromEnv) armed = parseFaultSpec(fromEnv);

/** An armed point: how often it fired so far, and how to disarm it. */
export interface ArmedFault {
  fired(): number;
  disarm(): void;
}

/** Arms a point in this process. Default: throw, once, at any step. */
export function armFault(point: FaultPoint, opts: { mode?: FaultMode; step?: string; times?: number } = {}): ArmedFault {
  const times = opts.times ?? 1;
  const entry: Armed = { point, mode: opts.mode ?? 'throw', left: times, ...(opts.step ? { step: opts.step } : {}) };
  (armed ??= []).push(entry);
  return {
    fired: () => times - entry.left,
    disarm: () => {
      armed = armed?.filter((a) => a !== entry) ?? null;
      if (armed?.length === 0) armed = null;
    },
  };
}

/** Disarms every point armed in this process. */
export function disarmFaults(): void {
  armed = null;
}

/** Marks a commit boundary: nothing unless a test armed this point. */
export function faultPoint(point: FaultPoint, where: { step?: string | null } = {}): void {
  if (armed === null) return;
  const hit = armed.find((a) => a.point === point && a.left > 0 && (a.step === undefined || a.step === where.step));
  if (!hit) return;
  hit.left -= 1;
  if (hit.mode === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new InjectedFault(point);
}

/**
 * Delivering the outbox: claim a due row, send it to its sink, record the outcome with a
 * `packet.delivery` ledger event in one transaction, then claim the next. At least once,
 * deduplicated downstream by the packet id (webhook-id, PagerDuty's dedup_key, the file sink's
 * own check); a sink that is down delays a packet with backoff and survives restarts, because
 * the row, not memory, is the queue.
 *
 * One row per claim, each claimed at its own time: a claim is a lease of one send's length, so
 * a batch claimed up front would lapse behind a slow sink and let another deliverer send the
 * later rows a second time.
 *
 * With an advisor, a packet's first delivery waits for the model's wording of its `why` (bounded
 * by the advisor's timeout), asked once per packet before anything is claimed: the wait then
 * never eats into a claim's lease, and every sink of the packet gets the same text (the packet's
 * rows are held meanwhile, so another deliverer does not send it without).
 */
import type { Advisor } from '../agents/advisor.js';
import type { DeploymentConfig } from '../config/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { Masker } from '../secrets/mask.js';
import type { Db } from '../store/db.js';
import { claimDeliveries, recordDelivery, type ClaimedDelivery, type OutboxState } from '../store/outbox.js';
import { applyChange } from '../store/tasks.js';
import { adviseDue } from './packet-advice.js';
import { faultPoint } from '../fault-points.js';
import { readPacket } from './packet-schema.js';
import type { Delivery } from './sink-payloads.js';
import { sendToSink, SEND_TIMEOUT_MS, type SendResult } from './sink-send.js';

/**
 * Nominal waits after the 1st, 2nd, ... failed attempt (the last repeats): 5 s, then four times
 * longer each time up to 2 h. A page is retried within seconds, as Svix's schedule for Standard
 * Webhooks does (5 s, 5 min, 30 min, 2 h, ...), and a long outage costs few calls. Each wait is
 * drawn within ±DELIVERY_JITTER of its nominal value, so the rows an outage held back do not all
 * come due in the same second.
 */
export const DELIVERY_BACKOFF_MS = [5_000, 20_000, 80_000, 320_000, 1_280_000, 5_120_000, 7_200_000];
/** How far a wait may stray from its nominal value, as a share of it. */
export const DELIVERY_JITTER = 0.2;
/**
 * Attempts before a row is given up as `dead`: with the waits above, about 28 hours after the
 * first attempt (Svix gives up after about 27).
 */
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 20;
/** How long a claim holds: longer than one send, so a live deliverer is never overtaken. */
export const DEFAULT_CLAIM_MS = 3 * SEND_TIMEOUT_MS;

export interface DeliverOptions {
  db: Db;
  config: DeploymentConfig;
  /** Masks secret values in recorded errors (an API may echo a routing key or URL back). */
  masker: Masker;
  /**
   * The clock: each row is claimed and recorded at its own time. A Date is where this call's
   * clock starts; it then moves with real time (tests pass a date far ahead to make rows due).
   */
  now: Date | (() => Date);
  logger?: Logger;
  /** Default: global fetch. */
  fetch?: typeof fetch;
  /** Most rows one call delivers (the rest wait for the next call). Default 100. */
  limit?: number;
  /** Default DEFAULT_CLAIM_MS. */
  claimMs?: number;
  /** Default DEFAULT_MAX_DELIVERY_ATTEMPTS. */
  maxAttempts?: number;
  /** Wait after the n-th failed attempt (1-based). Default: defaultBackoffMs. */
  backoffMs?: (attempt: number) => number;
  /** Rewords packets' `why` before their first send (`advisorFromEnv()`). Default: none, no model is called. */
  advisor?: Advisor | null;
  /** Longest wait for one packet's advice. Default: the advisor's own (`ADVISOR_TIMEOUT_MS`). */
  adviceTimeoutMs?: number;
}

export interface DeliveryStats {
  delivered: number;
  /** Failed this time and scheduled again. */
  retrying: number;
  /** Given up: refused for good, or out of attempts. */
  dead: number;
}

/** The wait after the n-th failed attempt (1-based): DELIVERY_BACKOFF_MS with jitter. */
export function defaultBackoffMs(attempt: number, random: () => number = Math.random): number {
  const nominal = DELIVERY_BACKOFF_MS[Math.min(Math.max(attempt, 1), DELIVERY_BACKOFF_MS.length) - 1]!;
  return Math.round(nominal * (1 - DELIVERY_JITTER + 2 * DELIVERY_JITTER * random()));
}

/** A clock from `now`: itself when a function, else starting at the date and running with real time. */
function clockOf(now: Date | (() => Date)): () => Date {
  if (typeof now === 'function') return now;
  const start = performance.now();
  return () => new Date(now.getTime() + Math.round(performance.now() - start));
}

function deliveryOf(row: ClaimedDelivery): Delivery {
  const packet = readPacket(row.body);
  return row.kind === 'trigger'
    ? { kind: 'trigger', packet }
    : { kind: 'resolve', packet, state: row.taskState, resolvedAt: (row.resolvedAt ?? row.createdAt).toISOString() };
}

async function deliverOne(row: ClaimedDelivery, o: DeliverOptions, clock: () => Date, stats: DeliveryStats): Promise<void> {
  const sink = o.config.sinks[row.sink];
  faultPoint('delivery.before-send');
  const result: SendResult = sink
    ? await sendToSink(sink, deliveryOf(row), { now: clock(), ...(o.fetch ? { fetch: o.fetch } : {}) })
    : { ok: false, retryable: false, status: null, error: `sink ${row.sink} is not in the deployment config` };
  faultPoint('delivery.after-send');
  const now = clock();
  const max = o.maxAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS;
  let state: OutboxState;
  let nextAttemptAt: Date | undefined;
  if (result.ok) state = 'delivered';
  else if (result.retryable && row.attempts < max) {
    state = 'pending';
    const wait = Math.max(1, (o.backoffMs ?? defaultBackoffMs)(row.attempts), result.retryAfterMs ?? 0);
    nextAttemptAt = new Date(now.getTime() + wait);
  } else state = 'dead';
  const error = result.ok ? null : o.masker.maskString(result.error);
  const recorded = await o.db.transaction(async (tx) => {
    const mine = await recordDelivery(tx, { id: row.id, attempt: row.attempts, now, state, error, ...(nextAttemptAt ? { nextAttemptAt } : {}) });
    if (!mine) return false;
    await applyChange(tx, {
      taskId: row.taskId,
      now,
      events: [
        {
          type: 'packet.delivery',
          step: null,
          actor: 'outbox',
          data: {
            packetId: row.packetId,
            role: 'escalation',
            sink: row.sink,
            sinkType: sink?.type ?? null,
            kind: row.kind,
            attempt: row.attempts,
            ok: result.ok,
            status: result.status,
            ...(result.ok && result.skipped ? { skipped: result.skipped } : {}),
            ...(error ? { error } : {}),
            ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}),
            ...(state === 'dead' ? { gaveUp: true } : {}),
          },
        },
      ],
    });
    return true;
  });
  faultPoint('delivery.after-record');
  const log = (o.logger ?? silentLogger).child({ taskId: row.taskId, packetId: row.packetId, sink: row.sink, attempt: row.attempts });
  if (!recorded) log.warn('delivery outcome not recorded: another deliverer took the row over');
  else if (state === 'delivered') stats.delivered += 1;
  else if (state === 'pending') {
    stats.retrying += 1;
    log.warn({ err: error, nextAttemptAt }, 'packet delivery failed; will retry');
  } else {
    stats.dead += 1;
    log.error({ err: error }, 'packet delivery given up');
  }
}

/** Delivers every due outbox row once (up to `limit`), one claim per row, until none is due. */
export async function deliverDue(o: DeliverOptions): Promise<DeliveryStats> {
  const stats: DeliveryStats = { delivered: 0, retrying: 0, dead: 0 };
  const limit = o.limit ?? 100;
  const clock = clockOf(o.now);
  if (o.advisor) {
    // Advice is optional: whatever goes wrong with it, the packets still go out.
    await adviseDue({
      db: o.db,
      advisor: o.advisor,
      masker: o.masker,
      now: clock(),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.adviceTimeoutMs !== undefined ? { timeoutMs: o.adviceTimeoutMs } : {}),
    }).catch((err: unknown) => (o.logger ?? silentLogger).warn({ err }, 'packet advice failed; packets go out with their rule text'));
  }
  // A failed row is never due again within one call (its next attempt is later); a delivered
  // trigger releases its resolve, claimed in the same call.
  for (let n = 0; n < limit; n++) {
    const [row] = await claimDeliveries(o.db, { now: clock(), leaseMs: o.claimMs ?? DEFAULT_CLAIM_MS, limit: 1 });
    if (!row) break;
    await deliverOne(row, o, clock, stats);
  }
  return stats;
}

/**
 * A deliverer for a long-lived process: `deliverDue` with the options fixed and at most one run
 * at a time (a second call while one runs waits for it rather than starting another).
 */
export function createDeliverer(o: Omit<DeliverOptions, 'now'> & { now?: () => Date }): { deliver(): Promise<DeliveryStats> } {
  let running: Promise<DeliveryStats> | null = null;
  return {
    deliver() {
      running ??= deliverDue({ ...o, now: o.now ?? (() => new Date()) }).finally(() => {
        running = null;
      });
      return running;
    },
  };
}

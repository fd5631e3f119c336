/**
 * Delivering the outbox: claim the due rows, send each to its sink, record the outcome with a
 * `packet.delivery` ledger event in one transaction. At least once, deduplicated downstream by
 * the packet id (webhook-id, PagerDuty's dedup_key, the file sink's own check); a sink that is
 * down delays a packet with backoff and survives restarts, because the row, not memory, is the
 * queue.
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
import { readPacket } from './packet-schema.js';
import type { Delivery } from './sink-payloads.js';
import { sendToSink, SEND_TIMEOUT_MS, type SendResult } from './sink-send.js';

/** Waits after the 1st, 2nd, ... failed attempt; the last repeats. */
export const DELIVERY_BACKOFF_MS = [10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];
/** Attempts before a row is given up as `dead` (about 13 hours of an outage with the backoff above). */
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 20;
/** How long a claim holds: longer than one send, so a live deliverer is never overtaken. */
export const DEFAULT_CLAIM_MS = 3 * SEND_TIMEOUT_MS;

export interface DeliverOptions {
  db: Db;
  config: DeploymentConfig;
  /** Masks secret values in recorded errors (an API may echo a routing key or URL back). */
  masker: Masker;
  now: Date;
  logger?: Logger;
  /** Default: global fetch. */
  fetch?: typeof fetch;
  /** Rows claimed per call. Default 20. */
  limit?: number;
  /** Default DEFAULT_CLAIM_MS. */
  claimMs?: number;
  /** Default DEFAULT_MAX_DELIVERY_ATTEMPTS. */
  maxAttempts?: number;
  /** Wait after the n-th failed attempt (1-based). Default: DELIVERY_BACKOFF_MS. */
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

export function defaultBackoffMs(attempt: number): number {
  return DELIVERY_BACKOFF_MS[Math.min(Math.max(attempt, 1), DELIVERY_BACKOFF_MS.length) - 1]!;
}

function deliveryOf(row: ClaimedDelivery): Delivery {
  const packet = readPacket(row.body);
  return row.kind === 'trigger'
    ? { kind: 'trigger', packet }
    : { kind: 'resolve', packet, state: row.taskState, resolvedAt: (row.resolvedAt ?? row.createdAt).toISOString() };
}

async function deliverOne(row: ClaimedDelivery, o: DeliverOptions, stats: DeliveryStats): Promise<void> {
  const sink = o.config.sinks[row.sink];
  const result: SendResult = sink
    ? await sendToSink(sink, deliveryOf(row), { now: o.now, ...(o.fetch ? { fetch: o.fetch } : {}) })
    : { ok: false, retryable: false, status: null, error: `sink ${row.sink} is not in the deployment config` };
  const max = o.maxAttempts ?? DEFAULT_MAX_DELIVERY_ATTEMPTS;
  let state: OutboxState;
  let nextAttemptAt: Date | undefined;
  if (result.ok) state = 'delivered';
  else if (result.retryable && row.attempts < max) {
    state = 'pending';
    const wait = Math.max(1, (o.backoffMs ?? defaultBackoffMs)(row.attempts), result.retryAfterMs ?? 0);
    nextAttemptAt = new Date(o.now.getTime() + wait);
  } else state = 'dead';
  const error = result.ok ? null : o.masker.maskString(result.error);
  const recorded = await o.db.transaction(async (tx) => {
    const mine = await recordDelivery(tx, { id: row.id, attempt: row.attempts, now: o.now, state, error, ...(nextAttemptAt ? { nextAttemptAt } : {}) });
    if (!mine) return false;
    await applyChange(tx, {
      taskId: row.taskId,
      now: o.now,
      events: [
        {
          type: 'packet.delivery',
          step: null,
          actor: 'outbox',
          data: {
            packetId: row.packetId,
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

/** Delivers every due outbox row once (claimed in batches of `limit` until none is due). */
export async function deliverDue(o: DeliverOptions): Promise<DeliveryStats> {
  const stats: DeliveryStats = { delivered: 0, retrying: 0, dead: 0 };
  const limit = o.limit ?? 20;
  if (o.advisor) {
    // Advice is optional: whatever goes wrong with it, the packets still go out.
    await adviseDue({
      db: o.db,
      advisor: o.advisor,
      masker: o.masker,
      now: o.now,
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.adviceTimeoutMs !== undefined ? { timeoutMs: o.adviceTimeoutMs } : {}),
    }).catch((err: unknown) => (o.logger ?? silentLogger).warn({ err }, 'packet advice failed; packets go out with their rule text'));
  }
  for (;;) {
    const before = stats.delivered;
    const rows = await claimDeliveries(o.db, { now: o.now, leaseMs: o.claimMs ?? DEFAULT_CLAIM_MS, limit });
    for (const row of rows) await deliverOne(row, o, stats);
    // Look again while batches come back full, or when a delivered trigger may have released its
    // resolve. A failed row is never due again within one call (its next attempt is later).
    if (rows.length < limit && !rows.some((r) => r.kind === 'trigger' && stats.delivered > before)) return stats;
  }
}

/**
 * A deliverer for a long-lived process: `deliverDue` with the options fixed and at most one run
 * at a time (a second call while one runs waits for it rather than starting another).
 */
export function createDeliverer(o: Omit<DeliverOptions, 'now'> & { now?: () => Date }): { deliver(): Promise<DeliveryStats> } {
  let running: Promise<DeliveryStats> | null = null;
  return {
    deliver() {
      running ??= deliverDue({ ...o, now: (o.now ?? (() => new Date()))() }).finally(() => {
        running = null;
      });
      return running;
    },
  };
}

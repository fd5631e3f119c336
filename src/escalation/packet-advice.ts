/**
 * The optional advisor at delivery time: before a packet's first send, a configured model may
 * write its own wording of `recommendation.why` from the packet's evidence. The advice is stored
 * beside the rule text (`recommendation.advice`), never in place of it, and the model never sees
 * or touches the action, the commands or the allowed actions (escalation-packet.md).
 *
 * It runs here, not where packets are written: those run inside the transaction that stops the
 * task, and a model call there would hold that transaction (and the task's row lock) open for
 * as long as the model takes.
 */
import { ADVISOR_TIMEOUT_MS, type AdviceCall, type Advisor } from '../agents/advisor.js';
import { silentLogger, type Logger } from '../log.js';
import { trim } from '../orchestrator/outcome.js';
import type { Masker } from '../secrets/mask.js';
import type { Db } from '../store/db.js';
import { holdFirstDeliveries } from '../store/outbox.js';
import { markAdviceAsked, packetsAwaitingAdvice, setPacketAdvice, type PacketRow } from '../store/packets.js';
import { applyChange } from '../store/tasks.js';
import { readPacket, type Packet, type PacketAdvice } from './packet-schema.js';

/** Newest attempts shown to the model; older ones are only counted. */
export const ADVICE_ATTEMPTS = 10;
/** Evidence items shown to the model. */
export const ADVICE_EVIDENCE = 10;
/** Longest observed value or error shown to the model, as JSON text. */
const ADVICE_VALUE_CHARS = 1000;
/** Packets advised at once. */
export const ADVICE_CONCURRENCY = 4;
/** Packets looked up per round. */
const ADVICE_BATCH = 20;
/** How much longer than the advice timeout a packet's first delivery is held for it. */
const HOLD_MARGIN_MS = 5_000;

export interface AdviseDueOptions {
  db: Db;
  advisor: Advisor;
  /** Masks secret values in what the model is shown and in recorded errors. */
  masker: Masker;
  now: Date;
  logger?: Logger;
  /** Longest wait for one packet's advice. Default: the advisor's (`ADVISOR_TIMEOUT_MS`). */
  timeoutMs?: number;
}

/** A value cut to a bounded JSON text when large: the model needs its gist, not a whole API answer. */
function bounded(v: unknown): unknown {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined || s.length <= ADVICE_VALUE_CHARS) return v;
  return trim(s, ADVICE_VALUE_CHARS);
}

/**
 * What the model is shown for a packet: why it stopped, the summary, the recommended action (to
 * explain, not to change), what changed, the newest attempts and the evidence, all masked by
 * value. Not the task input (the summary names what the task was about), not the commands.
 */
export function adviceEvidence(p: Packet, masker: Masker): Record<string, unknown> {
  const attempts = p.attempts.slice(-ADVICE_ATTEMPTS);
  return masker.maskValue({
    summary: p.summary,
    state: p.state,
    reason: p.reason,
    recommendedAction: p.recommendation.action,
    runbookOwnerNote: p.recommendation.ownerNote,
    sideEffects: p.sideEffects.map((s) => ({ step: s.step, system: s.system, effect: s.effect, ids: s.ids })),
    attempts: attempts.map((a) => ({ step: a.step, kind: a.kind, attempt: a.attempt, outcome: a.outcome, failureClass: a.failureClass, durationMs: a.durationMs, error: a.error === null ? null : bounded(a.error) })),
    attemptsOmitted: p.attemptsOmitted + (p.attempts.length - attempts.length),
    evidence: p.evidence.slice(0, ADVICE_EVIDENCE).map((e) => ('observed' in e ? { ...e, observed: bounded(e.observed) } : e)),
    retryBudget: p.retryBudget,
  });
}

/** Asks the advisor about one packet, if no one has, and records the answer and the call. */
async function adviseOne(row: PacketRow, o: AdviseDueOptions, log: Logger, elapsed: () => number): Promise<void> {
  // Marked before the call, so a second deliverer (or the next round, after a crash) does not
  // ask again: a packet is advised at most once, and a lost answer only costs the advice. Its
  // first delivery is held meanwhile, or another deliverer could send it without the advice.
  // From `now` as it is when this packet's turn comes: in a burst, later packets wait their turn.
  const hold = new Date(o.now.getTime() + elapsed() + (o.timeoutMs ?? ADVISOR_TIMEOUT_MS) + HOLD_MARGIN_MS);
  const mine = await o.db.transaction(async (tx) => {
    if (!(await markAdviceAsked(tx, row.id))) return false;
    await holdFirstDeliveries(tx, row.id, hold);
    return true;
  });
  if (!mine) return;
  const packet = readPacket(row.body);
  let call: AdviceCall = { latencyMs: 0, error: 'the advisor did not report its call' };
  const text = await o.advisor.adviseWhy(adviceEvidence(packet, o.masker), packet.recommendation.why, {
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    onCall: (c) => {
      call = c;
    },
  });
  const advice: PacketAdvice | null = text ? { text: o.masker.maskString(text), model: o.advisor.model, at: o.now.toISOString() } : null;
  const error = advice ? null : o.masker.maskString(call.error ?? 'no advice');
  await o.db.transaction(async (tx) => {
    if (advice) await setPacketAdvice(tx, row.id, advice);
    await holdFirstDeliveries(tx, row.id, o.now); // released: due again in this very run
    await applyChange(tx, {
      taskId: row.taskId,
      now: o.now,
      events: [
        {
          type: 'agent.call',
          step: packet.reason.step,
          actor: 'advisor',
          data: {
            purpose: 'advice',
            packetId: row.id,
            model: o.advisor.model,
            latencyMs: call.latencyMs,
            tokens: call.tokens ? { input: call.tokens.input ?? null, output: call.tokens.output ?? null } : null,
            ok: advice !== null,
            ...(error ? { error } : {}),
          },
        },
      ],
    });
  });
  log.debug({ packetId: row.id, taskId: row.taskId, ok: advice !== null, latencyMs: call.latencyMs }, 'packet advice asked');
}

/**
 * Asks the advisor about every packet whose first delivery is due and that was never advised,
 * a few at a time, each bounded by the timeout. Never throws for one packet: a packet whose
 * advice fails (the model, or the database in between) goes out with its rule text. Returns how
 * many packets were looked at.
 */
export async function adviseDue(o: AdviseDueOptions): Promise<number> {
  const log = (o.logger ?? silentLogger).child({ model: o.advisor.model });
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let seen = 0;
  for (;;) {
    const rows = await packetsAwaitingAdvice(o.db, { now: o.now, limit: ADVICE_BATCH });
    let progressed = false;
    const queue = [...rows];
    const work = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        try {
          await adviseOne(row, o, log, elapsed);
          progressed = true;
        } catch (err) {
          log.warn({ err, packetId: row.id, taskId: row.taskId }, 'packet advice failed; the packet goes out with its rule text');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(ADVICE_CONCURRENCY, queue.length) }, work));
    seen += rows.length;
    // Another round only when the batch was full and moved on: a round whose every packet failed
    // would find the same packets again.
    if (rows.length < ADVICE_BATCH || !progressed) return seen;
  }
}

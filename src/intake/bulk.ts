/**
 * Bulk intake (`runwarden submit --jsonl`): one task request per line, each taken exactly as
 * `runwarden submit` takes one (deduplicated by externalRef, rejected with its reasons, refused
 * when over the limits or in conflict), in batches of one transaction each, so a commit is paid
 * per batch rather than per line. A bad line is a result, never the end of the run: malformed
 * JSON and refusals are reported with their line number and the next line goes on.
 *
 * A batch costs four round trips whatever its size (see takeBatch), which is what makes it fast:
 * on a busy machine a round trip is the price of a request, not the commit.
 *
 * A batch whose transaction fails as a whole (the database went away mid-batch, a statement
 * error) is taken again line by line, each in its own transaction, so one line the database
 * refuses cannot take its neighbours with it; a line already committed is then a deduplicated
 * repeat, never a second task.
 */
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../config/deployment-config.js';
import { isRunwardenError } from '../errors.js';
import { checkRequestTextSize } from '../orchestrator/intake-limits.js';
import { prepareTask, repeatOf, requestParts, saveStartingVersion, type IntakeRunbooks, type PreparedTask, type Rejection, type RequestParts } from '../orchestrator/intake.js';
import { WAKE_CHANNEL } from '../orchestrator/wake.js';
import type { Db } from '../store/db.js';
import { insertTasks, taskByExternalRef, tasksByExternalRefs } from '../store/intake.js';
import type { TaskRow } from '../store/tasks.js';

/** Lines per transaction by default: large enough to amortise the commit, small enough to retry. */
export const DEFAULT_BATCH_SIZE = 200;

/** What became of one line. */
export interface LineResult {
  /** 1-based line number in the input. */
  line: number;
  result: 'created' | 'deduplicated' | 'rejected' | 'refused';
  taskId?: string;
  state?: string;
  externalRef?: string;
  /** Why it was rejected or refused (the error code and message, or the rejection's problems). */
  reason?: string;
  code?: string;
}

export interface BulkSummary {
  lines: number;
  created: number;
  deduplicated: number;
  rejected: number;
  refused: number;
  /** Blank lines skipped. */
  blank: number;
}

export interface BulkOptions {
  now: () => Date;
  env: Record<string, string>;
  secrets: Record<string, string>;
  limits?: IntakeLimits;
  /** Ledger actor; default `intake`. */
  actor?: string;
  /** Default DEFAULT_BATCH_SIZE. */
  batchSize?: number;
  /** Called for each line's result, in input order. */
  onResult?: (r: LineResult) => void;
}

type Parsed = { line: number; request: unknown } | { line: number; refused: LineResult };

function parseLine(text: string, line: number, limits: IntakeLimits): Parsed {
  try {
    checkRequestTextSize(text, limits, `line ${line}`);
    return { line, request: JSON.parse(text) };
  } catch (err) {
    const code = isRunwardenError(err) ? err.code : 'REQUEST_INVALID';
    const message = err instanceof SyntaxError ? `line ${line} is not valid JSON: ${err.message}` : (err as Error).message;
    return { line, refused: { line, result: 'refused', code, reason: message } };
  }
}

function lineResult(line: number, r: { task: TaskRow; created: boolean; rejection?: Rejection }): LineResult {
  const base = { line, taskId: r.task.id, state: r.task.state, ...(r.task.externalRef ? { externalRef: r.task.externalRef } : {}) };
  if (!r.created) return { ...base, result: 'deduplicated' };
  if (r.rejection) return { ...base, result: 'rejected', code: r.rejection.kind, reason: r.rejection.problems.map((x) => `${x.path}: ${x.message}`).join('; ') };
  return { ...base, result: 'created' };
}

function refusal(line: number, err: unknown): LineResult {
  // A refusal in JS (conflict, limits, a broken runbook) writes nothing; anything else is the database's.
  if (isRunwardenError(err) && err.code !== 'DATABASE_UNAVAILABLE' && err.code !== 'INTERNAL') return { line, result: 'refused', code: err.code, reason: err.message };
  throw err;
}

/**
 * One batch in `tx`, in four round trips whatever its size: the tasks its externalRefs name
 * already, the runbook versions its accepted tasks start on, one INSERT of every new task with
 * its first ledger event, and one wake-up. Each line is decided as submitTask decides it; a line
 * whose ref an earlier line of the batch (or another writer, meanwhile) took is then a repeat of
 * that task.
 */
async function takeBatch(tx: Db, runbooks: IntakeRunbooks, batch: Parsed[], o: BulkOptions): Promise<LineResult[]> {
  const now = o.now();
  const limits = o.limits ?? DEFAULT_INTAKE_LIMITS;
  const opts = { now, env: o.env, secrets: o.secrets, actor: o.actor ?? 'intake' };
  const results: Array<LineResult | undefined> = new Array(batch.length);
  const parts: Array<RequestParts | undefined> = batch.map((p, i) => {
    if ('refused' in p) {
      results[i] = p.refused;
      return undefined;
    }
    try {
      return requestParts(p.request, limits);
    } catch (err) {
      results[i] = refusal(p.line, err);
      return undefined;
    }
  });
  const refs = [...new Set(parts.flatMap((x) => (x?.externalRef ? [x.externalRef] : [])))];
  const existing = await tasksByExternalRefs(tx, refs);
  const taken = new Set<string>();
  const later: number[] = [];
  const fresh: Array<{ i: number; prepared: PreparedTask }> = [];
  parts.forEach((x, i) => {
    if (!x) return;
    const line = batch[i]!.line;
    try {
      const prior = x.externalRef ? existing.get(x.externalRef) : undefined;
      if (prior) results[i] = lineResult(line, repeatOf(prior, x));
      else if (x.externalRef && taken.has(x.externalRef)) later.push(i);
      else {
        fresh.push({ i, prepared: prepareTask(runbooks, x, opts) });
        if (x.externalRef) taken.add(x.externalRef);
      }
    } catch (err) {
      results[i] = refusal(line, err);
    }
  });
  const versions = new Map(fresh.flatMap((f) => (f.prepared.accepted ? [[f.prepared.accepted.hash, f.prepared.accepted] as const] : [])));
  for (const v of versions.values()) await saveStartingVersion(tx, v, now);
  const inserted = await insertTasks(tx, fresh.map((f) => f.prepared.task), now);
  for (const f of fresh) {
    if (inserted.has(f.prepared.task.id)) {
      const t = f.prepared.task;
      results[f.i] = { line: batch[f.i]!.line, taskId: t.id, state: t.state, ...(t.externalRef ? { externalRef: t.externalRef } : {}), ...(f.prepared.rejection ? { result: 'rejected' as const, code: f.prepared.rejection.kind, reason: f.prepared.rejection.problems.map((x) => `${x.path}: ${x.message}`).join('; ') } : { result: 'created' as const }) };
    } else later.push(f.i);
  }
  for (const i of later.sort((a, b) => a - b)) {
    const x = parts[i]!;
    try {
      const prior = await taskByExternalRef(tx, x.externalRef!);
      if (!prior) throw new Error(`externalRef ${x.externalRef} was neither inserted nor found`);
      results[i] = lineResult(batch[i]!.line, repeatOf(prior, x));
    } catch (err) {
      results[i] = refusal(batch[i]!.line, err);
    }
  }
  if (fresh.some((f) => inserted.has(f.prepared.task.id) && !f.prepared.rejection)) await tx.notify(WAKE_CHANNEL, 'bulk').catch(() => undefined);
  return results as LineResult[];
}

/** Takes one batch in one transaction, or line by line when the transaction fails as a whole. */
async function runBatch(db: Db, runbooks: IntakeRunbooks, batch: Parsed[], o: BulkOptions): Promise<LineResult[]> {
  try {
    return await db.transaction((tx) => takeBatch(tx, runbooks, batch, o));
  } catch {
    const out: LineResult[] = [];
    for (const p of batch) {
      try {
        out.push(...(await db.transaction((tx) => takeBatch(tx, runbooks, [p], o))));
      } catch (err) {
        out.push({ line: p.line, result: 'refused', code: isRunwardenError(err) ? err.code : 'INTERNAL', reason: (err as Error).message });
      }
    }
    return out;
  }
}

/** Submits every line of `lines` (see the module comment) and returns the summary. */
export async function submitLines(db: Db, runbooks: IntakeRunbooks, lines: AsyncIterable<string> | Iterable<string>, o: BulkOptions): Promise<BulkSummary> {
  const summary: BulkSummary = { lines: 0, created: 0, deduplicated: 0, rejected: 0, refused: 0, blank: 0 };
  const limits = o.limits ?? DEFAULT_INTAKE_LIMITS;
  const size = Math.max(1, o.batchSize ?? DEFAULT_BATCH_SIZE);
  let batch: Parsed[] = [];
  const flush = async () => {
    if (!batch.length) return;
    for (const r of await runBatch(db, runbooks, batch, o)) {
      summary[r.result] += 1;
      o.onResult?.(r);
    }
    batch = [];
  };
  let n = 0;
  for await (const raw of lines) {
    n += 1;
    summary.lines = n;
    const text = raw.trim();
    if (!text) {
      summary.blank += 1;
      continue;
    }
    batch.push(parseLine(text, n, limits));
    if (batch.length >= size) await flush();
  }
  await flush();
  return summary;
}

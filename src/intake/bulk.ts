/**
 * Bulk intake (`runwarden submit --jsonl`): one task request per line, each taken exactly as
 * `runwarden submit` takes one (deduplicated by externalRef, rejected with its reasons, refused
 * when over the limits or in conflict), in batches of one transaction each, so a commit is paid
 * per batch rather than per line. A bad line is a result, never the end of the run: malformed
 * JSON and refusals are reported with their line number and the next line goes on.
 *
 * A batch whose transaction fails as a whole (the database went away mid-batch, a statement
 * error) is taken again line by line, each in its own transaction, so one line the database
 * refuses cannot take its neighbours with it; a line already committed is then a deduplicated
 * repeat, never a second task.
 */
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../config/deployment-config.js';
import { isRunwardenError } from '../errors.js';
import { checkRequestTextSize } from '../orchestrator/intake-limits.js';
import { submitTask, type IntakeRunbooks } from '../orchestrator/intake.js';
import { WAKE_CHANNEL } from '../orchestrator/wake.js';
import type { Db } from '../store/db.js';

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

async function submitOne(db: Db, runbooks: IntakeRunbooks, p: Extract<Parsed, { request: unknown }>, o: BulkOptions, saved: Set<string>): Promise<LineResult> {
  try {
    const { task, created, rejection } = await submitTask(db, runbooks, p.request, {
      now: o.now(),
      env: o.env,
      secrets: o.secrets,
      actor: o.actor ?? 'intake',
      limits: o.limits ?? DEFAULT_INTAKE_LIMITS,
      savedVersions: saved,
      wake: false,
    });
    const base = { line: p.line, taskId: task.id, state: task.state, ...(task.externalRef ? { externalRef: task.externalRef } : {}) };
    if (!created) return { ...base, result: 'deduplicated' };
    if (rejection) return { ...base, result: 'rejected', code: rejection.kind, reason: rejection.problems.map((x) => `${x.path}: ${x.message}`).join('; ') };
    return { ...base, result: 'created' };
  } catch (err) {
    // A refusal in JS (conflict, limits, a broken runbook) writes nothing; anything else is the database's.
    if (isRunwardenError(err) && err.code !== 'DATABASE_UNAVAILABLE' && err.code !== 'INTERNAL') return { line: p.line, result: 'refused', code: err.code, reason: err.message };
    throw err;
  }
}

/** Takes one batch in one transaction, or line by line when the transaction fails as a whole. */
async function runBatch(db: Db, runbooks: IntakeRunbooks, batch: Parsed[], o: BulkOptions): Promise<LineResult[]> {
  const take = (handle: Db, items: Parsed[], saved: Set<string>) =>
    (async () => {
      const out: LineResult[] = [];
      for (const p of items) out.push('refused' in p ? p.refused : await submitOne(handle, runbooks, p, o, saved));
      if (out.some((r) => r.result === 'created' && r.state === 'queued')) await handle.notify(WAKE_CHANNEL, 'bulk').catch(() => undefined);
      return out;
    })();
  try {
    return await db.transaction((tx) => take(tx, batch, new Set()));
  } catch {
    const out: LineResult[] = [];
    for (const p of batch) {
      if ('refused' in p) out.push(p.refused);
      else {
        try {
          out.push(...(await db.transaction((tx) => take(tx, [p], new Set()))));
        } catch (err) {
          out.push({ line: p.line, result: 'refused', code: isRunwardenError(err) ? err.code : 'INTERNAL', reason: (err as Error).message });
        }
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

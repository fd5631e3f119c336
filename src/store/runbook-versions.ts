/**
 * The runbook versions tasks started with, kept by content hash: a task runs on its own version
 * to the end, so an owner's edit never changes repeat modes or step positions under it.
 */
import type { Db } from './db.js';
import { toDate } from './rows.js';

export interface RunbookVersion {
  /** SHA-256 of the source, hex. */
  hash: string;
  runbookId: string;
  version: number;
  file: string;
  source: string;
  createdAt: Date;
}

/**
 * The hashes this handle has stored: every submission of a class stores its version, and after
 * the first time that is a round trip that changes nothing. Versions are never deleted, so what
 * was stored through a handle stays stored.
 */
const saved = new WeakMap<Db, Set<string>>();

/** Stores a version (once: a hash already stored is left as it is). */
export async function saveRunbookVersion(db: Db, v: Omit<RunbookVersion, 'createdAt'>, now: Date): Promise<void> {
  const known = saved.get(db) ?? new Set<string>();
  if (known.has(v.hash)) return;
  await db.query(
    `INSERT INTO runbook_versions (hash, runbook_id, version, file, source, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (hash) DO NOTHING`,
    [v.hash, v.runbookId, v.version, v.file, v.source, now],
    { name: 'rw_save_runbook_version' },
  );
  known.add(v.hash);
  saved.set(db, known);
}

/** The stored version with this hash, if any. */
export async function getRunbookVersion(db: Db, hash: string): Promise<RunbookVersion | undefined> {
  const rows = await db.query<Record<string, unknown>>('SELECT * FROM runbook_versions WHERE hash = $1', [hash], { name: 'rw_get_runbook_version' });
  const r = rows[0];
  if (!r) return undefined;
  return { hash: r.hash as string, runbookId: r.runbook_id as string, version: Number(r.version), file: r.file as string, source: r.source as string, createdAt: toDate(r.created_at)! };
}

/** Where the demo keeps its data (the embedded database and the packet file), and how `--reset` clears it. */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RunwardenError } from '../errors.js';
import { lockDataDir } from '../store/data-dir-lock.js';
import { isPostgresUrl, MEMORY_TARGET } from '../store/db.js';

/** Where the demo's file sink writes for a database target: beside the embedded database. */
export function packetsFileFor(db: string): string {
  return isPostgresUrl(db) || db === MEMORY_TARGET ? resolve('.runwarden/packets.jsonl') : `${resolve(db.replace(/^file:\/\//, ''))}-packets.jsonl`;
}

/**
 * Deletes an embedded database directory and the demo's packet file. Refuses a PostgreSQL URL
 * and any directory that is not a PGlite data directory: `--reset --db .` must never empty a
 * user's working directory.
 */
export async function resetDemoData(db: string): Promise<void> {
  if (isPostgresUrl(db) || db === MEMORY_TARGET) {
    throw new RunwardenError('USAGE', '--reset works on the embedded database only; drop a PostgreSQL database with your own tools');
  }
  const dir = resolve(db.replace(/^file:\/\//, ''));
  if (existsSync(dir) && !existsSync(join(dir, 'PG_VERSION'))) {
    throw new RunwardenError('USAGE', `--reset refuses to delete ${dir}: it is not an embedded database directory`);
  }
  // Holding the lock while deleting: another process with the database open makes this fail
  // with its pid, rather than losing its writes under it.
  const release = await lockDataDir(dir);
  try {
    await rm(dir, { recursive: true, force: true });
    await rm(packetsFileFor(db), { force: true });
  } finally {
    await release();
  }
}


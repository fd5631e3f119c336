/**
 * A fingerprint of an embedded database directory that changes whenever any process has had it
 * open, read-only commands included. A process that closes the database and later wants to know
 * whether someone else has been in (`runwarden demo --keep`) compares two stamps instead of
 * holding the directory's lock (data-dir-lock.ts) the whole time.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The stamp of the PGlite data directory `dir`: a hash of `global/pg_control`, or `missing`.
 *
 * Why pg_control's bytes and not a modification time: the server rewrites the file at every
 * start and every clean shutdown (its state and the checkpoint it shut down at), so its content
 * differs after any open and close, while an mtime can stay the same on a file system that keeps
 * whole seconds. Nothing else writes it while the directory is closed, so the stamp is stable
 * until another process opens the database.
 */
export async function dataDirStamp(dir: string): Promise<string> {
  try {
    return createHash('sha1').update(await readFile(join(dir, 'global', 'pg_control'))).digest('hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

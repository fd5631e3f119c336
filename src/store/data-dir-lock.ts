/**
 * One process per embedded database directory. PGlite takes no lock of its own, and two
 * processes on one directory lose writes without an error, so `openDb` holds `<dir>.lock`
 * (the owner's pid) while the database is open. A lock whose process is gone (killed, crashed)
 * is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { RunwardenError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Takes the lock of a data directory, or throws DATABASE_UNAVAILABLE naming the process that
 * holds it. Returns the release (idempotent; also runs if the process exits without closing).
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = `${dir}.lock`;
  for (let tries = 0; !tryCreate(path); tries++) {
    const owner = readPid(path);
    if (owner !== undefined && alive(owner)) {
      throw new RunwardenError(
        'DATABASE_UNAVAILABLE',
        `the embedded database at ${dir} is open in another process (pid ${owner}${owner === process.pid ? ', this one' : ''}); ` +
          'the embedded database serves one process at a time: stop that process, or use PostgreSQL (--db postgres://...) for several',
        { details: { lock: path, pid: owner } },
      );
    }
    if (tries >= 2) throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot take the lock ${path} of the embedded database`);
    // The owner is gone: a stale lock from a killed process.
    try {
      unlinkSync(path);
    } catch {
      // another process took it over first; the next tryCreate decides
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readPid(path) === process.pid) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release);
  return async () => release();
}

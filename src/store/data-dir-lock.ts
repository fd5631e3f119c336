/**
 * Who owns an embedded database directory. PGlite takes no lock of its own, and two processes
 * opening one directory lose writes without an error, so exactly one process at a time opens
 * it (the owner, which serves it to the others: embedded/open.ts).
 *
 * The lock is `<dir>.lock/`, a directory of numbered generations: `<dir>.lock/<n>` holds the pid
 * of the process that owns (or owned) the data directory as generation n, or `released`. To
 * take the lock, a process reads the highest generation; when its process is alive, the lock is
 * held; otherwise (released, or a killed owner) the process creates generation n+1 with an
 * exclusive, atomic create (`link(2)` of a file already holding its pid, which fails when the
 * name exists). Two processes taking over the same stale generation both try to create n+1, and
 * exactly one succeeds; the other finds it alive.
 *
 * Why generations, not one lock file replaced when stale: replacing is "read, see it is stale,
 * remove it, create ours", and a second process that read the same stale file removes the file
 * the first has just created; both then believe they own the directory (the race this fixes).
 * A generation is never replaced, only followed. The highest generation is never removed (an
 * owner removes only lower ones once it holds the lock, and a process that finds a higher one
 * after its create backs off), so "create n+1" always means "after n".
 */
import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RunwardenError } from '../errors.js';

/** Locks this process holds, by lock directory: a pid alone cannot tell us from a reused pid. */
const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a generation file; undefined when released or unreadable, null when the file is gone. */
function ownerOf(file: string): number | undefined | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The lock directory's generations, ascending. */
function generations(lockDir: string): number[] {
  return readdirSync(lockDir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Writes `text` to a new file in `lockDir`, complete, under a name of its own; returns the path. */
function scratchFile(lockDir: string, text: string): string {
  const path = join(lockDir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Creates the lock directory; a lock file left by an older runwarden is replaced when stale. */
function ensureLockDir(lockDir: string): number | undefined {
  for (;;) {
    try {
      mkdirSync(lockDir, { mode: 0o700 });
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw err;
    }
    try {
      readdirSync(lockDir);
      return undefined; // a directory: ours
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    // A lock file of the one-file format: honour its owner while it lives.
    const pid = ownerOf(lockDir);
    if (typeof pid === 'number' && alive(pid)) return pid;
    // unlink(2) never removes a directory, so a racer cannot remove a lock directory made meanwhile.
    try {
      unlinkSync(lockDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EISDIR' && code !== 'EPERM') throw err;
    }
  }
}

/** A held lock: `release` lets the next process take over (idempotent; also runs at exit). */
export interface DataDirLock {
  readonly generation: number;
  release(): Promise<void>;
}

/** The process holding the lock, when it is not us to take. */
export interface LockHeld {
  holder: number;
  lockDir: string;
}

/** The lock directory of a data directory. */
export function lockDirOf(dir: string): string {
  return `${dir}.lock`;
}

/**
 * Takes the lock of data directory `dir` (an absolute path), or says which process holds it.
 * Never both: of any number of processes calling this at once, at most one gets the lock.
 */
export function tryLockDataDir(dir: string): DataDirLock | LockHeld {
  const lockDir = lockDirOf(dir);
  const legacy = ensureLockDir(lockDir);
  if (legacy !== undefined) return { holder: legacy, lockDir };
  if (held.has(lockDir)) return { holder: process.pid, lockDir };
  for (let tries = 0; tries < 100; tries++) {
    const gens = generations(lockDir);
    const top = gens.at(-1) ?? 0;
    if (top > 0) {
      const pid = ownerOf(join(lockDir, String(top)));
      if (pid === null) continue; // removed while we looked: look again
      // Our own pid in a lock we do not hold: a previous process with the same pid (containers).
      if (pid !== undefined && pid !== process.pid && alive(pid)) return { holder: pid, lockDir };
    }
    const mine = top + 1;
    const path = join(lockDir, String(mine));
    const scratch = scratchFile(lockDir, `${process.pid}\n`);
    try {
      linkSync(scratch, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process took `mine`
      throw err;
    } finally {
      unlinkSync(scratch);
    }
    // We looked at an old list: a higher generation exists, so `mine` came after it. Back off.
    if (generations(lockDir).some((g) => g > mine)) {
      unlinkSync(path);
      continue;
    }
    held.set(lockDir, mine);
    removeOldGenerations(lockDir, mine);
    return { generation: mine, release: lockRelease(lockDir, mine) };
  }
  throw new RunwardenError('DATABASE_UNAVAILABLE', `cannot take the lock ${lockDir} of the embedded database: it keeps changing`);
}

/** Generations below ours, and scratch files of processes that are gone. */
function removeOldGenerations(lockDir: string, mine: number): void {
  for (const name of readdirSync(lockDir)) {
    const gen = /^\d+$/.test(name) ? Number(name) : undefined;
    const scratchPid = /^\.tmp-(\d+)-/.exec(name)?.[1];
    if ((gen !== undefined && gen < mine) || (scratchPid && !alive(Number(scratchPid)))) {
      try {
        unlinkSync(join(lockDir, name));
      } catch {
        // gone already
      }
    }
  }
}

function lockRelease(lockDir: string, mine: number): () => Promise<void> {
  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    process.off('exit', release);
    held.delete(lockDir);
    // Written over, never removed: the highest generation stays, marked free (see the file comment).
    try {
      renameSync(scratchFile(lockDir, 'released\n'), join(lockDir, String(mine)));
    } catch {
      // The lock directory is gone (the data directory was deleted with it): nothing to release.
    }
  };
  process.on('exit', release);
  return async () => release();
}

/**
 * Takes the lock of a data directory, or throws DATABASE_UNAVAILABLE naming the process that
 * holds it (`details.lock`, `details.pid`). Returns the release.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const got = tryLockDataDir(dir);
  if ('release' in got) return got.release;
  throw new RunwardenError(
    'DATABASE_UNAVAILABLE',
    `the embedded database at ${dir} is open in another process (pid ${got.holder}${got.holder === process.pid ? ', this one' : ''}); stop that process first`,
    { details: { lock: got.lockDir, pid: got.holder } },
  );
}

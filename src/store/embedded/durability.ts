/**
 * Making PGlite's commits durable on disk. Out of the box they are not, twice over: PGlite starts
 * PostgreSQL with `-F` (fsync off), and the Emscripten file system it uses for a data directory
 * (NODEFS) has no fsync at all, so even with fsync on, PostgreSQL's flush of the write-ahead log
 * would be a no-op. (`relaxedDurability` is about something else: whether a query waits for the
 * browser file systems, IndexedDB and OPFS, to be written; on NODEFS that sync does nothing.)
 *
 * A committed write then reaches the operating system (it survives the process being killed)
 * but not the disk (a power loss or kernel crash can lose the last seconds of commits, and can
 * leave the database unreadable, since PostgreSQL's ordering guarantees rest on fsync).
 *
 * `durableFs` adds fsync to NODEFS (the real `fsync(2)` of the file, or directory, the database
 * syncs), and `durableStartParams` turns PostgreSQL's fsync back on with `wal_sync_method=fsync`:
 * Emscripten's `fdatasync` ignores the file system, its `fsync` reaches the stream's fsync.
 */
import { fdatasyncSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** The start parameters of a durable PGlite: PGlite's own, without `-F`, syncing the WAL with fsync. */
export function durableStartParams(): string[] {
  return [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync'];
}

interface NodefsStream {
  nfd?: number;
}

interface EmscriptenMod {
  NODEFS: {
    stream_ops: Record<string, unknown> & { fsync?: (stream: NodefsStream) => number };
    tryFSOperation<T>(f: () => T): T;
  };
}

/** Counts the fsyncs issued, for tests and the bench (process-wide). */
export const fsyncStats = { calls: 0 };

/** A NODEFS whose streams fsync: PostgreSQL's flush at commit reaches the disk. */
export class DurableNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const preRun = [
      ...((emscriptenOpts.preRun as unknown[] | undefined) ?? []),
      (mod: EmscriptenMod) => {
        mod.NODEFS.stream_ops.fsync = (stream: NodefsStream) => {
          if (stream.nfd === undefined) return 0;
          fsyncStats.calls += 1;
          // An fsync that fails is an I/O error for PostgreSQL (which then stops), never ignored.
          mod.NODEFS.tryFSOperation(() => fdatasyncSync(stream.nfd!));
          return 0;
        };
      },
    ];
    return { emscriptenOpts: { ...emscriptenOpts, preRun } as typeof emscriptenOpts };
  }
}

/**
 * The runbook a task runs on: the version it started with, to the end. The loaded runbook is
 * that version while the file is unchanged (same content hash); after an edit the task's own
 * version is compiled from the source stored at intake (runbook_versions), once per process.
 */
import { compileRunbookText } from '../runbook/load.js';
import type { CompiledRunbook, RunbookSet } from '../runbook/plan.js';
import type { Db } from '../store/db.js';
import { getRunbookVersion } from '../store/runbook-versions.js';
import type { TaskRow } from '../store/tasks.js';

/** Compiled pinned versions by hash; a handful are in use at a time, so a small bound will do. */
const compiled = new Map<string, CompiledRunbook>();
const KEEP = 64;

/**
 * The task's runbook: its pinned version (undefined when that version is neither loaded nor
 * stored, or no longer compiles), or the loaded one for a task from before pinning.
 */
export async function runbookOf(db: Db, runbooks: RunbookSet, task: Pick<TaskRow, 'runbookId' | 'runbookHash'>): Promise<CompiledRunbook | undefined> {
  const loaded = task.runbookId ? runbooks.byId.get(task.runbookId) : undefined;
  const hash = task.runbookHash;
  if (!hash || loaded?.hash === hash) return loaded;
  const hit = compiled.get(hash);
  if (hit) return hit;
  const stored = await getRunbookVersion(db, hash);
  if (!stored) return undefined;
  const { runbook } = compileRunbookText(stored.source, stored.file, runbooks.plugins ? { plugins: runbooks.plugins } : {});
  if (!runbook) return undefined;
  if (compiled.size >= KEEP) compiled.delete(compiled.keys().next().value!);
  compiled.set(hash, runbook);
  return runbook;
}

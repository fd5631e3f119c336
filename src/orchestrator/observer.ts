/**
 * What a worker tells whoever watches it (the metrics of `serve`): each checkpoint it wrote,
 * each claim and each lease renewal. Called after the fact, outside every transaction; an
 * observer that throws is a bug of the observer, and the worker goes on regardless.
 */
import type { CheckpointWrite } from '../store/checkpoints.js';
import type { TaskRow } from '../store/tasks.js';

export interface WorkerObserver {
  /** A checkpoint landed: `task` as written, `commit` what it recorded. */
  committed?(task: TaskRow, commit: CheckpointWrite, now: Date): void;
  /** One claim query: how many tasks it took and how long it took (seconds). */
  claimed?(count: number, seconds: number): void;
  /** One renewal of a task's lease: renewed, lost (another claim holds it) or failed (no answer). */
  leaseRenewal?(outcome: 'renewed' | 'lost' | 'failed'): void;
}

/** Calls `fn` on the observer, never letting it throw into the worker. */
export function tell(observer: WorkerObserver | undefined, fn: (o: WorkerObserver) => void): void {
  if (!observer) return;
  try {
    fn(observer);
  } catch {
    // An observer's bug must not stop a task.
  }
}

/**
 * How many tasks are in each state under the console's task-list filters (runbook, task class):
 * the counts beside its state filter. The list itself is task-page.ts.
 */
import { TASK_STATES, type TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';

export interface TaskCountFilter {
  runbook?: string;
  taskClass?: string;
}

function where(f: TaskCountFilter, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    parts.push(`${sql} = $${params.length}`);
  };
  if (f.runbook) add('runbook_id', f.runbook);
  if (f.taskClass) add('task_class', f.taskClass);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/** How many tasks are in each state under the filter (states with none are left out). */
export async function countTasksByState(db: Db, f: TaskCountFilter = {}): Promise<Partial<Record<TaskState, number>>> {
  const params: unknown[] = [];
  const rows = await db.query<{ state: string; n: unknown }>(`SELECT state, count(*) AS n FROM tasks${where(f, params)} GROUP BY state`, params);
  const out: Partial<Record<TaskState, number>> = {};
  for (const r of rows) if ((TASK_STATES as readonly string[]).includes(r.state)) out[r.state as TaskState] = Number(r.n);
  return out;
}

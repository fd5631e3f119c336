/**
 * Reads for the console's task list: tasks by state, runbook and task class, and how many there
 * are in each state under the same filters (the counts beside the state filter).
 */
import { TASK_STATES, type TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

export interface TaskListFilter {
  state?: TaskState;
  runbook?: string;
  taskClass?: string;
  /** Default 50. */
  limit?: number;
}

function where(f: Omit<TaskListFilter, 'limit'>, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    parts.push(`${sql} = $${params.length}`);
  };
  if (f.state) add('state', f.state);
  if (f.runbook) add('runbook_id', f.runbook);
  if (f.taskClass) add('task_class', f.taskClass);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

/** Tasks newest first under the filter. */
export async function listTasksBy(db: Db, f: TaskListFilter = {}): Promise<TaskRow[]> {
  const params: unknown[] = [];
  const w = where(f, params);
  params.push(f.limit ?? 50);
  const rows = await db.query<Record<string, unknown>>(`SELECT * FROM tasks${w} ORDER BY created_at DESC, id LIMIT $${params.length}`, params);
  return rows.map(mapTaskRow);
}

/** How many tasks are in each state under the filter (states with none are left out). */
export async function countTasksByState(db: Db, f: Omit<TaskListFilter, 'state' | 'limit'> = {}): Promise<Partial<Record<TaskState, number>>> {
  const params: unknown[] = [];
  const rows = await db.query<{ state: string; n: unknown }>(`SELECT state, count(*) AS n FROM tasks${where(f, params)} GROUP BY state`, params);
  const out: Partial<Record<TaskState, number>> = {};
  for (const r of rows) if ((TASK_STATES as readonly string[]).includes(r.state)) out[r.state as TaskState] = Number(r.n);
  return out;
}

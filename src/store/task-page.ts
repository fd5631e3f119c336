/**
 * Tasks a page at a time, newest first, for the API's list: keyset paging on
 * `(created_at, id)`, so a page costs the same however deep it is and a task created meanwhile
 * neither repeats nor hides one. The cursor is the last row's key, opaque to clients.
 */
import { RunwardenError } from '../errors.js';
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { Db } from './db.js';
import { mapTaskRow, type TaskRow } from './tasks.js';

export interface TaskPageFilter {
  states?: readonly TaskState[];
  runbook?: string;
  taskClass?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  limit: number;
  cursor?: string;
}

function encodeCursor(t: TaskRow): string {
  return Buffer.from(JSON.stringify([t.createdAt.toISOString(), t.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && !Number.isNaN(Date.parse(v[0])) && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // falls through to the refusal
  }
  throw new RunwardenError('REQUEST_INVALID', 'cursor is not one this API gave out; pass the nextCursor of the previous page unchanged', {
    problems: [{ path: 'cursor', message: 'not a cursor from a previous page' }],
  });
}

/** One page of tasks and the cursor of the next (null on the last page). */
export async function listTaskPage(db: Db, f: TaskPageFilter): Promise<{ tasks: TaskRow[]; nextCursor: string | null }> {
  const params: unknown[] = [];
  const where: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.states?.length) where.push(`state = ANY(${p([...f.states])}::text[])`);
  if (f.runbook) where.push(`runbook_id = ${p(f.runbook)}`);
  if (f.taskClass) where.push(`task_class = ${p(f.taskClass)}`);
  if (f.createdAfter) where.push(`created_at >= ${p(f.createdAfter)}`);
  if (f.createdBefore) where.push(`created_at < ${p(f.createdBefore)}`);
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor);
    where.push(`(created_at, id) < (${p(new Date(at))}::timestamptz, ${p(id)})`);
  }
  // One more than asked tells whether there is a next page without a count.
  const limit = p(f.limit + 1);
  const rows = await db.query<Record<string, unknown>>(
    `SELECT * FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
    params,
  );
  const tasks = rows.slice(0, f.limit).map(mapTaskRow);
  return { tasks, nextCursor: rows.length > f.limit ? encodeCursor(tasks[tasks.length - 1]!) : null };
}

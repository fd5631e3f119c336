/** Finding the task a callback is for: the token is the credential, stored hashed. */
import type { Db } from './db.js';

/** The id of the task whose wait is keyed by `tokenHash`, if any. */
export async function taskIdByCallback(db: Db, tokenHash: string): Promise<string | undefined> {
  const rows = await db.query<{ id: string }>('SELECT id FROM tasks WHERE callback_token_hash = $1', [tokenHash], { name: 'rw_task_by_callback' });
  return rows[0]?.id;
}

/**
 * When claimable work next falls due without anyone announcing it: a retry or a wait's timeout
 * coming due, an approval reaching its deadline, a lease lapsing (a dead worker's task). A
 * worker whose listener is up sleeps until then instead of polling the claim.
 */
import { CLAIM_AT_DEADLINE, CLAIM_ON_EXPIRY, CLAIM_WHEN_DUE } from './claim.js';
import type { Db } from './db.js';

/** The earliest time timed work becomes claimable, or null when none is waiting. */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const rows = await db.query<{ at: Date | string | null }>(
    `SELECT LEAST(
       (SELECT min(next_attempt_at) FROM tasks WHERE state = ANY($1::text[]) AND next_attempt_at IS NOT NULL),
       (SELECT min(lease_expires_at) FROM tasks WHERE state = ANY($2::text[]) AND lease_expires_at IS NOT NULL)
     ) AS at`,
    [[...CLAIM_WHEN_DUE, ...CLAIM_AT_DEADLINE], CLAIM_ON_EXPIRY],
    { name: 'rw_next_due' },
  );
  const at = rows[0]?.at;
  return at ? new Date(at) : null;
}

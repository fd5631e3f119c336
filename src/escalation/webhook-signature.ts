/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the receiver recomputes
 * HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>` with the shared secret and
 * compares it with `webhook-signature`, so it can trust the sender and refuse replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The prefix Standard Webhooks secrets carry; the rest is the key, base64. */
export const SECRET_PREFIX = 'whsec_';
/** How far a timestamp may be from the receiver's clock by default (5 minutes, as the spec suggests). */
export const DEFAULT_TOLERANCE_S = 300;

/** The HMAC key of a secret: the base64-decoded part after `whsec_` (a bare secret is used as its bytes). */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. `timestamp` is Unix seconds. */
export function signWebhook(m: { id: string; timestamp: number; body: string; secret: string }): string {
  const mac = createHmac('sha256', webhookKey(m.secret)).update(`${m.id}.${m.timestamp}.${m.body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three headers of a signed delivery. */
export function webhookHeaders(m: { id: string; timestamp: number; body: string; secret: string }): Record<string, string> {
  return {
    'webhook-id': m.id,
    'webhook-timestamp': String(m.timestamp),
    'webhook-signature': signWebhook(m),
  };
}

/**
 * True when one of the space-separated `v1,` signatures matches and the timestamp is within
 * `toleranceS` of `now` (default DEFAULT_TOLERANCE_S). For receivers and tests.
 */
export function verifyWebhook(m: { headers: Record<string, string | undefined>; body: string; secret: string; now: Date; toleranceS?: number }): boolean {
  const id = m.headers['webhook-id'];
  const ts = m.headers['webhook-timestamp'];
  const sigs = m.headers['webhook-signature'];
  if (!id || !ts || !sigs || !/^\d+$/.test(ts)) return false;
  if (Math.abs(m.now.getTime() / 1000 - Number(ts)) > (m.toleranceS ?? DEFAULT_TOLERANCE_S)) return false;
  const expected = Buffer.from(signWebhook({ id, timestamp: Number(ts), body: m.body, secret: m.secret }).slice(3), 'base64');
  return sigs.split(' ').some((s) => {
    if (!s.startsWith('v1,')) return false;
    const got = Buffer.from(s.slice(3), 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/** Identifiers: a prefix and 20 random base32 characters (100 bits), sortable by nothing. */
import { randomBytes, createHash } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function newId(prefix: 'tsk' | 'pkt' | 'cb' | 'wrk' | 'iev'): string {
  return `${prefix}_${base32(randomBytes(13)).slice(0, 20)}`;
}

/** An unguessable credential (for callback tokens): 160 random bits. */
export function newToken(): string {
  return `cb_${base32(randomBytes(20))}`;
}

/** How credentials are stored at rest. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * API bearer tokens. Only their SHA-256 is stored (the tokens file lists `{ name, role, sha256 }`),
 * so a leaked config or backup grants nothing; `hashApiToken` is how an operator makes an entry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role } from '../lifecycle/vocabulary.js';

/** A token the API accepts: who holds it and what it may do. */
export interface ApiToken {
  name: string;
  role: Role;
  /** Lower-case hex SHA-256 of the token. */
  sha256: string;
}

/** The hex SHA-256 of a token, as the tokens file stores it. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The entry a presented bearer token matches, or undefined. Compares digests in constant time so
 * response timing says nothing about how much of a guess was right.
 */
export function matchApiToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = Buffer.from(hashApiToken(presented), 'hex');
  let match: ApiToken | undefined;
  for (const t of tokens) {
    // Every entry is compared, even after a match, to keep the time independent of the position.
    if (timingSafeEqual(digest, Buffer.from(t.sha256, 'hex')) && !match) match = t;
  }
  return match;
}

/**
 * Console sessions: a signed-in token is exchanged for a random session id, kept in this
 * process's memory only. Nothing is written anywhere, so a session survives nothing more than
 * the process: a restart (or a second `serve` behind a load balancer without stickiness) asks
 * people to sign in again. That is the trade made for never storing a usable credential at rest.
 *
 * A session keeps the token it was opened with (in memory, like the session) and the console
 * checks it against the token store on every request, so `runwarden tokens revoke` ends the
 * sessions of that token at once.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '../../lifecycle/vocabulary.js';

/** The cookie that carries the session id. */
export const SESSION_COOKIE = 'rw_session';
/** How long a session lasts without use. Default 12 hours. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** How long a session lasts at most from sign-in, used or not (the cookie's max-age too). Default 12 hours. */
export const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
/** At most this many sessions are kept; past it the least recently used goes. */
export const MAX_SESSIONS = 10_000;

export interface Session {
  id: string;
  name: string;
  role: Role;
  /** The token signed in with: the token store is asked about it again on every request. */
  token: string;
  createdAt: number;
  lastSeen: number;
}

export interface SessionStore {
  create(who: { name: string; role: Role; token: string }, now: number): Session;
  /** The live session for an id (its idle clock restarted), or undefined. */
  get(id: string | undefined, now: number): Session | undefined;
  delete(id: string | undefined): void;
  size(): number;
}

export function memorySessionStore(opts: { idleMs?: number; maxAgeMs?: number; max?: number } = {}): SessionStore {
  const idleMs = opts.idleMs ?? SESSION_IDLE_MS;
  const maxAgeMs = opts.maxAgeMs ?? SESSION_MAX_MS;
  const max = opts.max ?? MAX_SESSIONS;
  // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
  const sessions = new Map<string, Session>();
  return {
    create(who, now) {
      const s: Session = { id: randomBytes(32).toString('base64url'), name: who.name, role: who.role, token: who.token, createdAt: now, lastSeen: now };
      sessions.set(s.id, s);
      while (sessions.size > max) sessions.delete(sessions.keys().next().value!);
      return s;
    },
    get(id, now) {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      sessions.delete(id);
      if (now - s.lastSeen > idleMs || now - s.createdAt > maxAgeMs) return undefined;
      s.lastSeen = now;
      sessions.set(id, s);
      return s;
    },
    delete(id) {
      if (id) sessions.delete(id);
    },
    size: () => sessions.size,
  };
}

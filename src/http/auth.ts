/**
 * Who is calling the API, and whether they may: bearer tokens from the tokens file of the
 * deployment config (only their SHA-256 is kept), each with one role. A request without a valid
 * token is a 401, one whose role does not grant the route a 403. The name of the token is the
 * operator recorded for an action; no body field can say otherwise.
 *
 * The console signs people in with its own session cookie; it sets `request.principal` the same
 * way, so `requireRole` guards both.
 */
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { ROLES, type Role } from '../lifecycle/vocabulary.js';
import type { TokenStore } from '../config/tokens.js';

export type { Role };
export { ROLES };

/** Who a request acts for: the token's name and its role. */
export type Principal = { name: string; role: Role };

/**
 * What each role may do. `operator` reads what it acts on; `admin` may do everything; `intake`
 * (a ticket queue's credential) only submits.
 */
export const ROLE_GRANTS: Readonly<Record<Role, readonly Role[]>> = {
  intake: ['intake'],
  viewer: ['viewer'],
  operator: ['viewer', 'operator'],
  admin: ['intake', 'viewer', 'operator', 'admin'],
};

/** True when a principal of `role` may use a route that needs `needed`. */
export function grants(role: Role, needed: Role): boolean {
  return ROLE_GRANTS[role].includes(needed);
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The API tokens (see src/config/tokens.ts). */
    runwardenTokens: TokenStore;
  }
  interface FastifyRequest {
    /** Set by the bearer-token hook (or the console's session); undefined when anonymous. */
    principal: Principal | undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(request: Pick<FastifyRequest, 'headers'>): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/**
 * The principal of a request's bearer token, or undefined when it has none or one that no entry
 * matches. Digests are compared in constant time (matchApiToken).
 */
export function authenticate(request: FastifyRequest): Principal | undefined {
  const token = bearerToken(request);
  if (token === undefined) return undefined;
  const entry = request.server.runwardenTokens.match(token);
  return entry ? { name: entry.name, role: entry.role } : undefined;
}

/** The error body of a refused request, in the shape of every runwarden error. */
function refusal(code: 'UNAUTHORIZED' | 'FORBIDDEN', message: string): Record<string, unknown> {
  return { error: { code, message, retryable: false } };
}

/**
 * A preHandler that lets through only principals whose role grants one of `roles`: 401 (with
 * `WWW-Authenticate: Bearer`) without a valid token, 403 for a role that does not grant it.
 */
export function requireRole(...roles: Role[]): preHandlerHookHandler {
  return function checkRole(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
    const who = request.principal;
    if (!who) {
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="runwarden"')
        .send(refusal('UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>; create one with `runwarden tokens add`)'));
      return;
    }
    if (!roles.some((r) => grants(who.role, r))) {
      void reply.code(403).send(refusal('FORBIDDEN', `token ${who.name} has role ${who.role}; this needs ${roles.join(' or ')}`));
      return;
    }
    done();
  };
}

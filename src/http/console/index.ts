/**
 * The operator console at `/` (server-rendered HTML). This placeholder mounts nothing; the
 * console replaces it. `buildApp` calls it inside its own encapsulated scope.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';

export async function registerConsole(_app: FastifyInstance, _deps: AppDeps): Promise<void> {
  // No console yet.
}

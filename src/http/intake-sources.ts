/**
 * Intake from external sources (ticket queues, alert webhooks) over HTTP. This placeholder mounts
 * nothing; intake sources replace it. `buildApp` calls it inside its own encapsulated scope.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app.js';

export async function registerIntakeSources(_app: FastifyInstance, _deps: AppDeps): Promise<void> {
  // No intake sources yet.
}

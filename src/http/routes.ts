/** The API's routes (interfaces.md, "HTTP API"), each a thin adapter over the library. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app.js';

export async function registerRoutes(app: FastifyInstance, _deps: AppDeps): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
}

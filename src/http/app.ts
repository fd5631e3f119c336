/**
 * The HTTP API of `runwarden serve` (interfaces.md, "HTTP API"): a thin adapter over the library,
 * as the CLI is. Routes validate their bodies with the same zod schemas the CLI uses, refuse a
 * body over the intake limit before reading it, and answer errors in the one shape every
 * runwarden error has (`{ error: { code, message, retryable, problems? } }`).
 *
 * `buildApp` returns the fastify instance unstarted: tests drive it with `inject`, `serve` calls
 * `listen`. The console and the intake sources are mounted in their own encapsulated scopes.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { fileTokenStore, fixedTokenStore, type TokenStore } from '../config/tokens.js';
import { isRunwardenError, RunwardenError } from '../errors.js';
import { escalationHooks } from '../escalation/hooks.js';
import { systemClock } from '../orchestrator/clock.js';
import { authenticate } from './auth.js';
import { registerConsole } from './console/index.js';
import { registerIntakeSources } from './intake-sources.js';
import { registerRoutes, type Full } from './routes.js';
import { ApiMetrics } from '../metrics/api-metrics.js';
import type { AppDeps } from './deps.js';

export type { AppDeps };

function tokenStoreOf(deps: AppDeps): TokenStore {
  if (deps.tokens) return deps.tokens;
  const file = deps.config.tokensFile;
  if (!file) return fixedTokenStore(deps.config.tokens);
  return fileTokenStore(file, deps.config.tokens, {
    onError: (err) => deps.logger?.warn({ err, file }, 'tokens file does not parse; the tokens read before stay in force'),
  });
}

/** The error body and status for anything a route threw. */
export function errorReply(err: unknown, limitBytes: number): { status: number; body: Record<string, unknown> } {
  if (isRunwardenError(err)) return { status: err.httpStatus, body: err.toJSON() };
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: new RunwardenError('REQUEST_TOO_LARGE', `the request body is larger than the limit of ${limitBytes} bytes (intake.maxRequestSize in runwarden.yaml); nothing of it was stored`).toJSON(),
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: new RunwardenError('REQUEST_INVALID', `send the body as application/json; got ${fe.message ?? 'another media type'}`).toJSON() };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: new RunwardenError('REQUEST_INVALID', 'the body is empty; send a JSON object').toJSON() };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: new RunwardenError('REQUEST_INVALID', 'the Content-Length header does not match the body').toJSON() };
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message ?? ''))) {
    return { status: 400, body: new RunwardenError('REQUEST_INVALID', `the body is not valid JSON: ${fe.message ?? String(err)}`).toJSON() };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: new RunwardenError('REQUEST_INVALID', fe.message ?? 'the request was not understood').toJSON() };
  }
  return { status: 500, body: new RunwardenError('INTERNAL', 'an unexpected error inside runwarden; the log has the details').toJSON() };
}

/**
 * The API as a fastify instance, not yet listening. Every request is authenticated from its
 * bearer token first (`request.principal`); routes then ask for a role with `requireRole`.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const limit = deps.config.intake.maxRequestBytes;
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // Bodies over the intake limit are refused from their Content-Length, or as soon as the
    // stream passes it: never buffered whole.
    bodyLimit: limit,
    // Behind a reverse proxy the client's address and scheme come from X-Forwarded-*.
    trustProxy: true,
    return503OnClosing: true,
    // One line per request at info would drown the worker's lines; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
  });
  const tokens = tokenStoreOf(deps);
  app.decorate('runwardenTokens', tokens);
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    request.principal = authenticate(request);
  });
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = errorReply(err, limit);
    if (status >= 500) request.log.error({ err }, 'request failed');
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(new RunwardenError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; GET /v1/openapi.json lists them`).toJSON());
  });
  const metrics = deps.metrics ?? new ApiMetrics();
  const full: Full = {
    ...deps,
    onAction: deps.onAction ?? escalationHooks({ config: deps.config, runbooks: deps.runbooks, masker: deps.masker }).onAction,
    clock: deps.clock ?? systemClock,
    metrics,
  };
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern, never its path: a task id must not become a label.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.request(route, request.method, reply.statusCode);
  });
  void app.register(async (scope) => registerRoutes(scope, full));
  void app.register(async (scope) => registerIntakeSources(scope, full));
  void app.register(async (scope) => registerConsole(scope, full));
  return app;
}

/**
 * `POST /v1/intake/<source>`: the endpoint of each intake source of the deployment config. The
 * body is kept as the raw bytes received (a content-type parser of this scope only), because a
 * signature is over those bytes, not over JSON parsed and written again; the intake size limit
 * holds as for every other body. The credential is the source's signature, or a bearer token
 * with the intake role when the source has no secret. What the request became is answered and
 * recorded in the intake log (src/intake/receive.ts).
 */
import type { FastifyInstance } from 'fastify';
import { receiveIntake } from '../intake/receive.js';
import type { AppDeps } from './deps.js';
import { grants } from './auth.js';

export async function registerIntakeSources(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const limit = deps.config.intake.maxRequestBytes;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_request, body, done) => done(null, body));
  const clock = deps.clock;
  app.post<{ Params: { source: string } }>('/v1/intake/:source', async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : v]));
    const who = request.principal;
    const res = await receiveIntake(
      {
        db: deps.db,
        config: deps.config,
        runbooks: deps.runbooks,
        now: () => (clock ? clock.now() : new Date()),
        ...(deps.onAction ? { onAction: deps.onAction } : {}),
        ...(deps.config.publicUrl ? { publicUrl: deps.config.publicUrl } : {}),
      },
      request.params.source,
      { body, headers, bearerOk: Boolean(who && grants(who.role, 'intake')) },
    );
    if (res.status !== 200) {
      const code = res.status === 401 ? 'UNAUTHORIZED' : res.status === 404 ? 'NOT_FOUND' : res.status === 413 ? 'REQUEST_TOO_LARGE' : 'REQUEST_INVALID';
      if (res.status === 401) void reply.header('www-authenticate', 'Bearer');
      return reply.code(res.status).send({ error: { code, message: res.error, retryable: false }, ...(res.event ? { event: res.event.id } : {}) });
    }
    const e = res.event!;
    return reply.code(200).send({ event: e.id, source: e.source, summary: e.summary, results: e.results });
  });
}

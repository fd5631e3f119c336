/**
 * `GET /v1/openapi.json`: the API as an OpenAPI 3.1 document, generated from the route table and
 * its zod schemas with zod's own `toJSONSchema` (JSON Schema 2020-12, the dialect OpenAPI 3.1
 * uses), so the document cannot drift from what the routes validate.
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { RouteSpec } from './route-spec.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

/** `/v1/tasks/:id` -> `/v1/tasks/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');

/** The query parameters of an object schema, each with its own schema. */
function queryParameters(s: z.ZodType): Json[] {
  const json = schemaOf(s, 'input');
  const props = (json.properties ?? {}) as Record<string, Json>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(schema.description ? { description: schema.description } : {}),
    schema,
  }));
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Bad request: every problem with its JSON path',
  401: 'No valid bearer token',
  403: "The token's role does not grant this",
  404: 'Not found',
  409: 'Not allowed in the current state, or changed meanwhile',
  413: 'Body over the intake limit (not read)',
  422: 'Rejected: stored as a rejected task with its reasons',
  503: 'The database does not answer',
};

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly RouteSpec[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    if (r.hidden) continue;
    const parameters = [
      ...Object.entries(r.params ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } })),
      ...(r.query ? queryParameters(r.query) : []),
    ];
    const responses: Record<string, Json> = {};
    for (const [status, schema] of Object.entries(r.responses)) {
      responses[status] = { description: STATUS_TEXT[Number(status)] ?? 'Response', content: { 'application/json': { schema: schemaOf(schema, 'output') } } };
    }
    if (r.url === '/metrics') responses['200'] = { description: 'Prometheus text exposition format', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } };
    const op: Json = {
      operationId: operationId(r),
      summary: r.summary,
      ...(r.role ? { security: [{ bearer: [] }], 'x-runwarden-role': r.role } : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body, 'input') } } } } : {}),
      responses,
    };
    (paths[openApiPath(r.url)] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'runwarden API',
      version: pkg.version,
      description: 'The HTTP API of runwarden serve. Bearer tokens carry a role (intake, viewer, operator, admin); create them with `runwarden tokens add`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `runwarden tokens add`' } } },
    paths,
  };
}

/** `POST /v1/tasks/:id/actions/resume` -> `resumeTask`; stable names for generated clients. */
function operationId(r: RouteSpec): string {
  const action = /\/actions\/([a-z]+)$/.exec(r.url)?.[1];
  if (action) return `${action}Task`;
  const known: Record<string, string> = {
    'POST /v1/tasks': 'submitTask',
    'GET /v1/tasks': 'listTasks',
    'GET /v1/tasks/:id': 'getTask',
    'GET /v1/tasks/:id/packet': 'getTaskPacket',
    'POST /v1/callbacks/:token': 'deliverCallback',
    'GET /healthz': 'health',
    'GET /readyz': 'ready',
    'GET /metrics': 'metrics',
  };
  return known[`${r.method} ${r.url}`] ?? `${r.method.toLowerCase()}${r.url.replace(/[^A-Za-z]+/g, '_')}`;
}

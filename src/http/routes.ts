/**
 * The API's routes (interfaces.md, "HTTP API"), each a thin adapter over the library: the task
 * list and views of src/store, intake and the operator actions of src/orchestrator. Each route
 * is declared once in ROUTES with its role and its zod schemas; the same table registers it,
 * produces `GET /v1/openapi.json` and drives the role matrix test.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { RunwardenError } from '../errors.js';
import { readPacket } from '../escalation/packet-schema.js';
import { CLOSED_STATES, isOneOf, OPERATOR_ACTIONS, type OperatorAction, type Role } from '../lifecycle/vocabulary.js';
import { checkRequestLimits } from '../orchestrator/intake-limits.js';
import { submitTask } from '../orchestrator/intake.js';
import { deliverCallback, OPERATOR_ACTION_FUNCTIONS, type ActionContext, type ActionResult } from '../orchestrator/operator.js';
import { listEvents } from '../store/events.js';
import { latestPacket } from '../store/packets.js';
import { listTaskPage } from '../store/task-page.js';
import { readTaskView, summarizeTask, taskView, type TaskView } from '../store/task-view.js';
import { getTask } from '../store/tasks.js';
import type { AppDeps } from './deps.js';
import type { RouteSpec } from './route-spec.js';
import { grants, requireRole } from './auth.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import {
  ACTION_BODIES,
  ActionResultBody,
  CallbackBody,
  CallbackResult,
  ErrorBody,
  Health,
  PacketSchema,
  problemsOf,
  Ready,
  TaskCreated,
  TaskDocumentSchema,
  TaskListQuery,
  TaskPage,
  TaskRequest,
} from './schemas.js';

export type { RouteSpec };

export type Full = AppDeps & { onAction: NonNullable<ActionContext['onAction']>; clock: { now(): Date }; metrics: ApiMetrics };

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));
const AUTH = [401, 403];

/** Every route of the API, in the order the OpenAPI document lists them. */
export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'POST',
    url: '/v1/tasks',
    role: 'intake',
    summary: 'Submit a task request (201 new, 200 existing by externalRef, 422 rejected with reasons)',
    body: TaskRequest,
    responses: { 201: TaskCreated, 200: TaskCreated, 422: TaskCreated, ...errors(400, ...AUTH, 409, 413) },
  },
  {
    method: 'GET',
    url: '/v1/tasks',
    role: 'viewer',
    summary: 'List tasks, newest first, a page at a time; filter by state, runbook, task class and creation time',
    query: TaskListQuery,
    responses: { 200: TaskPage, ...errors(400, ...AUTH) },
  },
  {
    method: 'GET',
    url: '/v1/tasks/:id',
    role: 'viewer',
    summary: 'One task (by id or externalRef): state, steps, ledger (as runwarden show --json)',
    params: { id: 'task id or externalRef' },
    responses: { 200: TaskDocumentSchema, ...errors(...AUTH, 404) },
  },
  {
    method: 'GET',
    url: '/v1/tasks/:id/packet',
    role: 'viewer',
    summary: "The task's latest escalation packet",
    params: { id: 'task id or externalRef' },
    responses: { 200: PacketSchema, ...errors(...AUTH, 404) },
  },
  ...OPERATOR_ACTIONS.map(
    (action): RouteSpec => ({
      method: 'POST',
      url: `/v1/tasks/:id/actions/${action}`,
      role: 'operator',
      summary: `Operator action ${action} (lifecycle.md); the operator recorded is the token's name`,
      params: { id: 'task id or externalRef' },
      body: ACTION_BODIES[action],
      responses: { 200: ActionResultBody, ...errors(400, ...AUTH, 404, 409, 413) },
    }),
  ),
  {
    method: 'POST',
    url: '/v1/callbacks/:token',
    role: null,
    summary: 'Deliver a callback to the task waiting on this token (the token is the only credential)',
    params: { token: 'the per-task callback token' },
    body: CallbackBody,
    responses: { 200: CallbackResult, ...errors(400, 404, 413) },
  },
  { method: 'GET', url: '/healthz', role: null, summary: 'Liveness: the process is up', responses: { 200: Health } },
  { method: 'GET', url: '/readyz', role: null, summary: 'Readiness: the database answers (503 when it does not)', responses: { 200: Ready, 503: Ready } },
  { method: 'GET', url: '/metrics', role: null, summary: 'Prometheus metrics (text exposition format)', responses: {} },
  { method: 'GET', url: '/v1/openapi.json', role: null, summary: 'This API as an OpenAPI 3.1 document', responses: {}, hidden: true },
];

/** Parses a part of a request with its schema; a 400 listing every problem when it does not fit. */
function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new RunwardenError('REQUEST_INVALID', `the request ${where} is not valid: ${r.error.issues.length} problem(s)`, { problems: problemsOf(r.error, where) });
}

/** The task view for a principal: a viewer does not get the callback credential (it is one). */
function forRole(view: TaskView, role: Role): TaskView {
  if (!view.callback || grants(role, 'operator')) return view;
  return { ...view, callback: { ...view.callback, token: '***' } };
}

async function viewOf(d: Full, ref: string): Promise<TaskView> {
  const view = await readTaskView(d.db, ref, (id) => d.runbooks.byId.get(id), { masker: d.masker });
  if (!view) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
  return view;
}

/** A query that must not hang a probe: the database away is an answer, not a wait. */
async function ping(d: Full, ms: number): Promise<{ ok: true } | { ok: false; error: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      d.db.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** How long `/readyz` waits for the database before answering 503. */
export const READY_TIMEOUT_MS = 2000;
/** Largest callback body (deliverCallback's own limit, in bytes of JSON). */
export const CALLBACK_LIMIT_BYTES = 65_536;

export async function registerRoutes(app: FastifyInstance, d: Full): Promise<void> {
  const guard = (role: Role | null) => (role ? { preHandler: requireRole(role) } : {});
  const spec = (method: string, url: string) => ROUTES.find((r) => r.method === method && r.url === url)!;

  app.post('/v1/tasks', guard(spec('POST', '/v1/tasks').role), async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new RunwardenError('REQUEST_INVALID', 'the body must be a JSON object: a task request', { problems: [{ path: '(body)', message: `expected an object, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}` }] });
    }
    checkRequestLimits(body, d.config.intake);
    const { task, created } = await submitTask(d.db, d.runbooks, body, {
      now: d.clock.now(),
      env: { ...d.config.env },
      secrets: { ...d.config.secrets },
      actor: `intake:${request.principal!.name}`,
      limits: d.config.intake,
    });
    const view = taskView(task, await listEvents(d.db, task.id), task.runbookId ? d.runbooks.byId.get(task.runbookId) : undefined, { masker: d.masker });
    d.metrics.intake(task.state === 'rejected' ? 'rejected' : created ? 'created' : 'existing');
    const status = task.state === 'rejected' ? 422 : created ? 201 : 200;
    return reply.code(status).send({ ...forRole(view, request.principal!.role), created });
  });

  app.get('/v1/tasks', guard('viewer'), async (request) => {
    const q = parse(TaskListQuery, request.query, 'query');
    const page = await listTaskPage(d.db, {
      ...(q.state ? { states: q.state } : {}),
      ...(q.runbook ? { runbook: q.runbook } : {}),
      ...(q.taskClass ? { taskClass: q.taskClass } : {}),
      ...(q.createdAfter ? { createdAfter: new Date(q.createdAfter) } : {}),
      ...(q.createdBefore ? { createdBefore: new Date(q.createdBefore) } : {}),
      limit: q.limit,
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
    return { items: d.masker.maskValue(page.tasks.map(summarizeTask)), nextCursor: page.nextCursor };
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', guard('viewer'), async (request) => forRole(await viewOf(d, request.params.id), request.principal!.role));

  app.get<{ Params: { id: string } }>('/v1/tasks/:id/packet', guard('viewer'), async (request) => {
    const task = await getTask(d.db, request.params.id);
    if (!task) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${request.params.id}`);
    const row = await latestPacket(d.db, task.id);
    if (!row) {
      throw new RunwardenError('TASK_NOT_FOUND', `task ${task.id} has no escalation packet: it never stopped for a person (it is ${task.state})`, { details: { taskId: task.id, state: task.state } });
    }
    // Packets are masked when written; masking again costs little and catches a miss.
    return d.masker.maskValue(readPacket(row.body));
  });

  for (const action of OPERATOR_ACTIONS) {
    app.post<{ Params: { id: string } }>(`/v1/tasks/:id/actions/${action}`, guard('operator'), async (request) => runAction(d, action, request));
  }

  app.post<{ Params: { token: string } }>('/v1/callbacks/:token', { bodyLimit: Math.min(CALLBACK_LIMIT_BYTES * 2, Math.max(CALLBACK_LIMIT_BYTES, d.config.intake.maxRequestBytes)) }, async (request) => {
    const task = await deliverCallback({ db: d.db, now: d.clock.now() }, request.params.token, request.body ?? null).catch((err: unknown) => {
      d.metrics.callback(err instanceof RunwardenError && err.code === 'CALLBACK_UNKNOWN' ? 'unknown_token' : 'refused');
      throw err;
    });
    d.metrics.callback('delivered');
    return { id: task.id, state: task.state };
  });

  app.get('/healthz', async () => ({ status: 'ok' as const }));

  app.get('/readyz', async (_request, reply) => {
    const r = await ping(d, READY_TIMEOUT_MS);
    if (r.ok) return { status: 'ready', database: { kind: d.db.kind, reachable: true } };
    return reply.code(503).send({ status: 'unavailable', database: { kind: d.db.kind, reachable: false, error: `the database does not answer: ${r.error}` } });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await d.metrics.scrape(d.db);
    return reply.type(d.metrics.contentType).send(text);
  });

  let openapi: unknown;
  app.get('/v1/openapi.json', async () => {
    const { openApiDocument } = await import('./openapi.js');
    openapi ??= openApiDocument(ROUTES);
    return openapi;
  });
}

async function runAction(d: Full, action: OperatorAction, request: FastifyRequest<{ Params: { id: string } }>): Promise<z.infer<typeof ActionResultBody>> {
  const raw = request.body ?? {};
  const body = ACTION_BODIES[action].safeParse(raw);
  if (!body.success) {
    const problems = problemsOf(body.error);
    // The likeliest mistake, said plainly: the token says who acts.
    const who = typeof raw === 'object' && raw !== null && 'operator' in raw;
    throw new RunwardenError(
      'REQUEST_INVALID',
      who ? 'the body may not name the operator: the operator recorded is the name of the bearer token' : `the ${action} body is not valid: ${problems.length} problem(s)`,
      { problems },
    );
  }
  const ctx: ActionContext = { db: d.db, runbooks: d.runbooks, now: d.clock.now(), onAction: d.onAction };
  const input = { ...body.data, operator: request.principal!.name };
  const fn = OPERATOR_ACTION_FUNCTIONS[action] as (c: ActionContext, r: string, i: typeof input) => Promise<ActionResult>;
  const result = await fn(ctx, request.params.id, input);
  d.metrics.action(action);
  // An action that closes a task ends it as a worker's checkpoint would (no action applies to a
  // closed task, so a closed result is this action's doing).
  if (!result.pending && !result.dryRun && isOneOf(CLOSED_STATES, result.task.state)) d.metrics.finished(result.task, result.task.state, result.task.updatedAt);
  return {
    id: result.task.id,
    state: result.task.state,
    ...(result.plan ? { plan: result.plan } : {}),
    ...(result.pending ? { pending: true } : {}),
    ...(result.dryRun ? { dryRun: true } : {}),
    ...(result.runbookUpgrade ? { runbookUpgrade: result.runbookUpgrade } : {}),
  };
}


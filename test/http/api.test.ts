/**
 * The HTTP API through fastify's inject: every route, bad and oversized bodies, the operator
 * recorded from the token, the callback token as the only credential, and paging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes.js';
import { ActionResultBody, ErrorBody, PacketSchema, TaskCreated, TaskDocumentSchema, TaskPage } from '../../src/http/schemas.js';
import { listEvents } from '../../src/store/events.js';
import { describeBackends } from '../helpers/backends.js';
import { useSim } from '../helpers/sim.js';
import { auth, PUBLIC_URL, testApi, type TestApi } from './helpers.js';

const sim = useSim();

describeBackends('HTTP API', ({ db }) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi(db(), sim().url, { intakeLimit: 4096 });
  });
  afterAll(async () => {
    await api?.app.close();
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = auth('admin')) =>
    api.app.inject({ method: 'POST', url, payload: body as object, headers });
  const get = (url: string, headers: Record<string, string> = auth('viewer')) => api.app.inject({ method: 'GET', url, headers });
  const work = async () => {
    const s = api.service();
    await s.runUntilIdle();
  };
  const count = async () => Number((await db().query<{ n: string }>('SELECT count(*) AS n FROM tasks'))[0]!.n);

  it('answers liveness and readiness', async () => {
    expect((await get('/healthz', {})).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz', {});
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', database: { reachable: true } });
  });

  it('submits: 201 new, 200 the same request again, 422 rejected with reasons, 409 a different one under the same ref', async () => {
    const req = { taskClass: 't.restart', externalRef: 'API-1', input: { service: 'api-a' } };
    const first = await post('/v1/tasks', req, auth('intake'));
    expect(first.statusCode).toBe(201);
    const created = TaskCreated.parse(first.json());
    expect(created).toMatchObject({ externalRef: 'API-1', state: 'queued', created: true });
    const again = await post('/v1/tasks', req, auth('intake'));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: created.id, created: false });
    const rejected = await post('/v1/tasks', { taskClass: 't.restart', input: { service: 'Not Valid!' } }, auth('intake'));
    expect(rejected.statusCode).toBe(422);
    expect(rejected.json()).toMatchObject({ state: 'rejected', rejection: { kind: 'invalid_input', problems: [expect.objectContaining({ path: expect.stringContaining('service') })] } });
    const conflict = await post('/v1/tasks', { ...req, input: { service: 'api-b' } }, auth('intake'));
    expect(conflict.statusCode).toBe(409);
    expect(ErrorBody.parse(conflict.json()).error.code).toBe('EXTERNAL_REF_CONFLICT');
  });

  it('refuses a body that is not JSON, not an object, or over the intake limit, storing nothing', async () => {
    const before = await count();
    const bad = await api.app.inject({ method: 'POST', url: '/v1/tasks', payload: '{"taskClass": ', headers: { ...auth('intake'), 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(ErrorBody.parse(bad.json()).error.code).toBe('REQUEST_INVALID');
    const arr = await post('/v1/tasks', [1, 2], auth('intake'));
    expect(arr.statusCode).toBe(400);
    expect(arr.json().error.problems).toEqual([{ path: '(body)', message: 'expected an object, got an array' }]);
    const big = await post('/v1/tasks', { taskClass: 't.restart', input: { service: 'x', pad: 'y'.repeat(5000) } }, auth('intake'));
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatchObject({ code: 'REQUEST_TOO_LARGE', message: expect.stringContaining('4096 bytes') });
    expect(await count()).toBe(before);
  });

  it('refuses a body over the limit from its Content-Length, before reading it', async () => {
    // A stream that would take for ever to send: refused from the header alone.
    const { Readable } = await import('node:stream');
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1;
        this.push(pulled < 3 ? Buffer.alloc(1024, 0x20) : null);
      },
    });
    const r = await api.app.inject({ method: 'POST', url: '/v1/tasks', payload: body, headers: { ...auth('intake'), 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) } });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('REQUEST_TOO_LARGE');
  });

  it('lists a page at a time with a cursor, filtered by state, runbook, task class and time', async () => {
    const start = new Date();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(TaskCreated.parse((await post('/v1/tasks', { taskClass: 't.wait', externalRef: `PAGE-${i}` }, auth('intake'))).json()).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await get(`/v1/tasks?taskClass=t.wait&createdAfter=${encodeURIComponent(start.toISOString())}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.statusCode).toBe(200);
      const page = TaskPage.parse(r.json());
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((t) => t.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse()); // newest first, each once
    const queued = TaskPage.parse((await get('/v1/tasks?state=queued,rejected&runbook=t-wait&limit=500')).json());
    expect(queued.items.every((t) => t.state === 'queued' && t.runbook?.id === 't-wait')).toBe(true);
    expect(queued.items.map((t) => t.id)).toEqual(expect.arrayContaining(ids));
    const none = TaskPage.parse((await get(`/v1/tasks?taskClass=t.wait&createdBefore=${encodeURIComponent(start.toISOString())}&createdAfter=${encodeURIComponent(start.toISOString())}`)).json());
    expect(none).toEqual({ items: [], nextCursor: null });
  });

  it('answers a bad query with every problem and its path', async () => {
    const r = await get('/v1/tasks?state=bogus&limit=0&createdAfter=yesterday&colour=red');
    expect(r.statusCode).toBe(400);
    const paths = ErrorBody.parse(r.json()).error.problems!.map((p) => p.path).sort();
    expect(paths).toEqual(['colour', 'createdAfter', 'limit', 'state.0'].sort());
    expect((await get('/v1/tasks?cursor=not-a-cursor')).json().error).toMatchObject({ code: 'REQUEST_INVALID', problems: [{ path: 'cursor' }] });
  });

  it('shows a task by id or externalRef, 404 otherwise', async () => {
    const t = TaskCreated.parse((await post('/v1/tasks', { taskClass: 't.restart', externalRef: 'SHOW-1', input: { service: 'api-show' } }, auth('intake'))).json());
    const byId = TaskDocumentSchema.parse((await get(`/v1/tasks/${t.id}`)).json());
    expect(byId).toMatchObject({ id: t.id, externalRef: 'SHOW-1', events: [expect.objectContaining({ type: 'intake.accepted' })] });
    expect((await get('/v1/tasks/SHOW-1')).json().id).toBe(t.id);
    const missing = await get('/v1/tasks/tsk_nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('TASK_NOT_FOUND');
  });

  it("serves an escalated task's packet with a working link, takes it over and resumes it as the token's holder", async () => {
    sim().setService('api-esc', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/api-esc/restart', status: 403, times: 1 });
    const t = TaskCreated.parse((await post('/v1/tasks', { taskClass: 't.restart', input: { service: 'api-esc' } }, auth('intake'))).json());
    expect((await get(`/v1/tasks/${t.id}/packet`)).statusCode).toBe(404); // not stopped yet
    await work();
    const packet = PacketSchema.parse((await get(`/v1/tasks/${t.id}/packet`)).json());
    expect(packet).toMatchObject({ state: 'escalated', links: { task: `${PUBLIC_URL}/tasks/${t.id}` } });

    const withOperator = await post(`/v1/tasks/${t.id}/actions/takeover`, { reason: 'looking', operator: 'mallory' }, auth('operator'));
    expect(withOperator.statusCode).toBe(400);
    expect(withOperator.json().error.message).toContain('name of the bearer token');
    const noReason = await post(`/v1/tasks/${t.id}/actions/takeover`, {}, auth('operator'));
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.problems).toEqual([expect.objectContaining({ path: 'reason' })]);

    const took = await post(`/v1/tasks/${t.id}/actions/takeover`, { reason: 'looking at the 403' }, auth('operator'));
    expect(took.statusCode).toBe(200);
    expect(ActionResultBody.parse(took.json())).toEqual({ id: t.id, state: 'in_handover' });
    const notAllowed = await post(`/v1/tasks/${t.id}/actions/approve`, { reason: 'no' }, auth('operator'));
    expect(notAllowed.statusCode).toBe(409);
    expect(notAllowed.json().error.code).toBe('ACTION_NOT_ALLOWED');
    expect((await post(`/v1/tasks/${t.id}/actions/resume`, { reason: 'permission fixed' }, auth('operator'))).json()).toMatchObject({ state: 'queued' });
    const actions = (await listEvents(db(), t.id)).filter((e) => e.type === 'operator.action');
    expect(actions.map((e) => [e.actor, e.data.action ?? e.data])).toEqual([
      ['operator:operator-bot', 'takeover'],
      ['operator:operator-bot', 'resume'],
    ]);
    await work();
    expect((await get(`/v1/tasks/${t.id}`)).json().state).toBe('completed');
  });

  it('delivers a callback on its token alone; a wrong token is a 404, an oversized body a 413', async () => {
    const t = TaskCreated.parse((await post('/v1/tasks', { taskClass: 't.wait', input: {} }, auth('intake'))).json());
    const s = api.service();
    const running = s.run();
    try {
      let view = TaskDocumentSchema.parse((await get(`/v1/tasks/${t.id}`, auth('operator'))).json());
      for (let i = 0; view.state !== 'waiting_callback' && i < 400; i++) {
        await new Promise((r) => setTimeout(r, 25));
        view = TaskDocumentSchema.parse((await get(`/v1/tasks/${t.id}`, auth('operator'))).json());
      }
      expect(view.state).toBe('waiting_callback');
      const token = view.callback!.token;
      // A viewer sees that a callback is awaited, not the credential.
      expect((await get(`/v1/tasks/${t.id}`)).json().callback.token).toBe('***');
      const wrong = await post(`/v1/callbacks/${token}x`, { tenant: 'acme' }, {});
      expect(wrong.statusCode).toBe(404);
      expect(wrong.json().error.code).toBe('CALLBACK_UNKNOWN');
      const huge = await post(`/v1/callbacks/${token}`, { tenant: 'x'.repeat(200_000) }, {});
      expect(huge.statusCode).toBe(413);
      const ok = await post(`/v1/callbacks/${token}`, { tenant: 'acme' }, {});
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ id: t.id, state: 'queued' });
      expect((await post(`/v1/callbacks/${token}`, { tenant: 'acme' }, {})).statusCode).toBe(404); // used up
    } finally {
      await s.stop();
      await running;
    }
  });

  it('describes itself as OpenAPI 3.1, every route with its schemas', async () => {
    const doc = (await get('/v1/openapi.json', {})).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of ROUTES.filter((x) => !x.hidden)) {
      const op = doc.paths[r.url.replace(/:([a-z]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      if (r.body) expect(op!.requestBody).toBeDefined();
    }
    expect(Object.keys(doc.paths['/v1/tasks']!.post!.responses).sort()).toEqual(['200', '201', '400', '401', '403', '409', '413', '422']);
  });
});

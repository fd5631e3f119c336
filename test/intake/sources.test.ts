/**
 * Intake sources over HTTP on both backends: each vendor's payload (fixtures built from the
 * vendors' documented formats) posted to POST /v1/intake/<source> with its signature makes the
 * right tasks, an event the mapping excludes makes none and shows in the intake log, a bad
 * signature is a 401 recorded there too, an Alertmanager group makes one task per firing alert
 * and a redelivery none, and a resolved alert cancels the task it made before a worker took it.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { hashApiToken, type DeploymentConfig } from '../../src/config/index.js';
import { fixedTokenStore } from '../../src/config/tokens.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { buildApp } from '../../src/http/app.js';
import { withWritebacks } from '../../src/intake/writeback.js';
import { createMasker } from '../../src/secrets/mask.js';
import { listIntakeEvents, taskOrigin } from '../../src/store/intake-log.js';
import { getTask, listEvents, listTasks } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fixtureRunbooks } from '../helpers/harness.js';
import { fixture, intakeConfig, sign } from './config.js';

const AM_TOKEN = 'rw_intake_alertmanager_5f1e2d3c';

describeBackends('intake sources', ({ db }) => {
  let app: FastifyInstance;
  let config: DeploymentConfig;
  beforeAll(async () => {
    config = await intakeConfig('http://127.0.0.1:9');
    const runbooks = await fixtureRunbooks();
    const masker = createMasker(config.secretValues());
    const hooks = withWritebacks(escalationHooks({ config, runbooks, masker }), { config });
    app = buildApp({
      db: db(),
      config,
      runbooks,
      masker,
      onAction: hooks.onAction,
      tokens: fixedTokenStore([{ name: 'alertmanager', role: 'intake', sha256: hashApiToken(AM_TOKEN) }, { name: 'reader', role: 'viewer', sha256: hashApiToken('rw_viewer_token_1') }]),
    });
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (source: string, body: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `/v1/intake/${source}`, payload: body, headers: { 'content-type': 'application/json', ...headers } });
  const am = (body: string, token = AM_TOKEN) => post('alerts', body, { authorization: `Bearer ${token}` });
  const latestLog = async (source: string) => (await listIntakeEvents(db(), { source, limit: 1 }))[0]!;

  /** The alert group fixture with fresh fingerprints, so each test's alerts are its own. */
  async function group(tag: string, edit: (g: { alerts: Array<Record<string, unknown>> }) => void = () => undefined): Promise<string> {
    const g = JSON.parse(await fixture('alertmanager-group.json')) as { alerts: Array<Record<string, unknown>> };
    for (const a of g.alerts) a.fingerprint = `${String(a.fingerprint)}${tag}`;
    edit(g);
    return JSON.stringify(g);
  }

  it('an Alertmanager group makes one task per matching firing alert, and its redelivery makes none', async () => {
    const body = await group('g1');
    const res = await am(body);
    expect(res.statusCode).toBe(200);
    const out = res.json() as { summary: Record<string, number>; results: Array<{ unit: string; result: string; taskId?: string; externalRef?: string }> };
    // Two production alerts; the staging one is excluded by the mapping's when.
    expect(out.summary).toEqual({ created: 2, excluded: 1 });
    expect(out.results.map((r) => r.result)).toEqual(['created', 'created', 'excluded']);
    const billing = await getTask(db(), out.results[0]!.taskId!);
    expect(billing).toMatchObject({ taskClass: 't.restart', state: 'queued', input: { service: 'billing-api' }, priority: 10, requestedBy: 'alertmanager:runwarden', externalRef: '5a1b7c9d3e2f4a60g1@2026-12-01T17:58:03.112Z' });
    expect((await listEvents(db(), billing!.id))[0]).toMatchObject({ type: 'intake.accepted', actor: 'source:alerts' });
    expect(await taskOrigin(db(), billing!.id)).toMatchObject({ source: 'alerts', sourceType: 'alertmanager', target: { fingerprint: '5a1b7c9d3e2f4a60g1' } });

    const again = await am(body);
    expect(again.statusCode).toBe(200);
    const second = again.json() as typeof out;
    expect(second.summary).toEqual({ deduplicated: 2, excluded: 1 });
    expect(second.results.map((r) => r.taskId)).toEqual(out.results.map((r) => r.taskId));
    const refs = (await listTasks(db(), { limit: 500 })).filter((t) => t.externalRef?.includes('g1@'));
    expect(refs).toHaveLength(2);
  });

  it('the same group delivered three times at once still makes one task per alert', async () => {
    const body = await group('g4');
    const answers = await Promise.all([am(body), am(body), am(body)]);
    const results = answers.flatMap((a) => (a.json() as { results: Array<{ unit: string; result: string; taskId?: string }> }).results);
    expect(results.filter((r) => r.result === 'created')).toHaveLength(2);
    expect(results.filter((r) => r.result === 'deduplicated')).toHaveLength(4);
    for (const unit of ['alerts[0]', 'alerts[1]']) expect(new Set(results.filter((r) => r.unit === unit).map((r) => r.taskId)).size).toBe(1);
    expect((await listTasks(db(), { limit: 500 })).filter((t) => t.externalRef?.includes('g4@'))).toHaveLength(2);
  });

  it('an alert the mapping cannot evaluate is refused with the expression and why, and its neighbours go on', async () => {
    const body = await group('g5', (g) => {
      delete (g.alerts[0]!.labels as Record<string, unknown>).service;
    });
    const out = (await am(body)).json() as { results: Array<{ result: string; reason?: string }> };
    expect(out.results.map((r) => r.result)).toEqual(['refused', 'created', 'excluded']);
    expect(out.results[0]!.reason).toMatch(/mapping failed: expression `\{'service': event\.labels\.service\}` failed: No such key: service/);
    expect((await latestLog('alerts')).summary).toEqual({ refused: 1, created: 1, excluded: 1 });
  });

  it('refuses an Alertmanager request without an intake token (401) and records it', async () => {
    const body = await group('g2');
    expect((await post('alerts', body)).statusCode).toBe(401);
    // A viewer's token is no intake credential either.
    expect((await am(body, 'rw_viewer_token_1')).statusCode).toBe(401);
    const log = await latestLog('alerts');
    expect(log).toMatchObject({ outcome: 'unauthorized', results: [] });
    expect(log.error).toMatch(/bearer token with the intake role/);
    expect((await listTasks(db(), { limit: 500 })).some((t) => t.externalRef?.includes('g2@'))).toBe(false);
  });

  it('a resolved alert cancels the task it made before a worker started it, as the source', async () => {
    const firing = await group('g3');
    const made = (await am(firing)).json() as { results: Array<{ taskId?: string }> };
    const billingId = made.results[0]!.taskId!;
    const resolved = await group('g3', (g) => {
      g.alerts = [{ ...g.alerts[0]!, status: 'resolved', endsAt: '2026-12-01T18:10:00.000Z' }];
    });
    const res = await am(resolved);
    expect(res.statusCode).toBe(200);
    expect((res.json() as { results: unknown[] }).results).toEqual([expect.objectContaining({ result: 'cancelled', taskId: billingId })]);
    const task = await getTask(db(), billingId);
    expect(task!.state).toBe('cancelled');
    const action = (await listEvents(db(), billingId)).find((e) => e.type === 'operator.action');
    expect(action).toMatchObject({ actor: 'operator:source:alerts', data: { action: 'cancel', operator: 'source:alerts' } });
    // The task made from the other alert of the group is left alone.
    expect((await getTask(db(), made.results[1]!.taskId!))!.state).toBe('queued');
    // A second resolve finds nothing left to cancel.
    const again = (await am(resolved)).json() as { results: Array<{ result: string; reason?: string }> };
    expect(again.results[0]).toMatchObject({ result: 'ignored' });
  });

  it('pagerduty: incident.triggered with a good X-PagerDuty-Signature makes a task; a bad one is a 401; other events are excluded', async () => {
    const body = await fixture('pagerduty-incident-triggered.json');
    const res = await post('pd', body, sign.pagerduty(body));
    expect(res.statusCode).toBe(200);
    const out = res.json() as { results: Array<{ result: string; taskId: string }> };
    expect(out.results).toEqual([expect.objectContaining({ result: 'created', externalRef: 'pagerduty:PGR0VU2' })]);
    expect(await getTask(db(), out.results[0]!.taskId)).toMatchObject({ input: { service: 'billing-api' }, requestedBy: 'pagerduty:pd' });
    expect(await taskOrigin(db(), out.results[0]!.taskId)).toMatchObject({ target: { incidentId: 'PGR0VU2' } });
    expect((await latestLog('pd')).deliveryId).toBe('f1a2b3c4-pd');

    const forged = await post('pd', body, sign.pagerduty(body, 'not-the-secret'));
    expect(forged.statusCode).toBe(401);
    expect(await latestLog('pd')).toMatchObject({ outcome: 'unauthorized' });
    // A signature of other bytes (the body re-serialised) does not verify either.
    const reformatted = JSON.stringify(JSON.parse(body), null, 2);
    expect((await post('pd', reformatted, sign.pagerduty(body))).statusCode).toBe(401);

    const ack = body.replace('"incident.triggered"', '"incident.acknowledged"');
    const acked = await post('pd', ack, sign.pagerduty(ack));
    expect((acked.json() as { summary: unknown }).summary).toEqual({ excluded: 1 });
  });

  it('jira: a created issue with a good X-Hub-Signature makes a task; one the mapping excludes is visible in the log', async () => {
    const body = await fixture('jira-issue-created.json');
    const res = await post('jira', body, sign.jira(body));
    expect(res.statusCode).toBe(200);
    const [r] = (res.json() as { results: Array<{ result: string; taskId: string; externalRef: string }> }).results;
    expect(r).toMatchObject({ result: 'created', externalRef: 'jira:OPS-4211' });
    expect(await getTask(db(), r!.taskId)).toMatchObject({ input: { service: 'billing-api' }, requestedBy: 'jira:Ops Queue' });

    const unlabelled = body.replace('"labels": ["runwarden", "restart"]', '"labels": ["restart"]').replace('OPS-4211', 'OPS-4212');
    const skipped = await post('jira', unlabelled, sign.jira(unlabelled));
    expect(skipped.statusCode).toBe(200);
    const log = await latestLog('jira');
    expect(log).toMatchObject({ outcome: 'processed', summary: { excluded: 1 }, results: [{ unit: 'payload', result: 'excluded' }] });
    expect((await listTasks(db(), { limit: 500 })).some((t) => t.externalRef === 'jira:OPS-4212')).toBe(false);

    expect((await post('jira', body, sign.jira(body, 'wrong'))).statusCode).toBe(401);
    expect((await post('jira', body)).statusCode).toBe(401);
  });

  it('github: an opened issue with a good X-Hub-Signature-256 makes a task; a push event makes none; a bad signature is a 401', async () => {
    const body = await fixture('github-issues-opened.json');
    const res = await post('gh', body, sign.github(body));
    expect(res.statusCode).toBe(200);
    const [r] = (res.json() as { results: Array<{ result: string; taskId: string }> }).results;
    expect(r).toMatchObject({ result: 'created', externalRef: 'github:acme/ops-requests#42' });
    expect(await taskOrigin(db(), r!.taskId)).toMatchObject({ target: { repository: 'acme/ops-requests', issue: '42' } });
    expect(((await post('gh', body, sign.github(body, undefined, 'push'))).json() as { summary: unknown }).summary).toEqual({ excluded: 1 });
    expect((await post('gh', body, sign.github(body, 'nope'))).statusCode).toBe(401);
  });

  it('webhook: a Standard Webhooks signed request makes a task; an off-schema input is rejected and says why in the log', async () => {
    const body = await fixture('webhook-restart.json');
    const res = await post('hook', body, sign.webhook(body));
    expect(res.statusCode).toBe(200);
    expect((res.json() as { results: unknown[] }).results).toEqual([expect.objectContaining({ result: 'created', externalRef: 'CHG-7781' })]);
    expect((await getTask(db(), 'CHG-7781'))).toMatchObject({ requestedBy: 'change-board', input: { service: 'billing-api' } });

    // The input schema wants a lower-case service name: the task is stored rejected, with the reason.
    const bad = JSON.stringify({ type: 'restart.requested', ticket: 'CHG-7782', service: 'Billing API!', requester: 'change-board' });
    const rejected = (await post('hook', bad, sign.webhook(bad, 'msg_2'))).json() as { results: Array<{ result: string; reason: string }> };
    expect(rejected.results[0]).toMatchObject({ result: 'rejected' });
    expect(rejected.results[0]!.reason).toMatch(/invalid_input: input\.service/);
    expect((await getTask(db(), 'CHG-7782'))!.state).toBe('rejected');

    const stale = { ...sign.webhook(body, 'msg_3'), 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) };
    expect((await post('hook', body, stale)).statusCode).toBe(401);
    expect(await latestLog('hook')).toMatchObject({ outcome: 'unauthorized' });
  });

  it('answers 404 for a source that is not configured and 400 for a body that is not the vendor format', async () => {
    expect((await post('nosuch', '{}')).statusCode).toBe(404);
    const notAm = JSON.stringify({ version: '3', alerts: [] });
    expect((await am(notAm)).statusCode).toBe(400);
    expect(await latestLog('alerts')).toMatchObject({ outcome: 'invalid' });
    expect((await am('{"version": "4", "alerts": [')).statusCode).toBe(400);
  });

  it('holds a source to the intake size limit (413), read no further than the limit', async () => {
    const huge = JSON.stringify({ version: '4', alerts: [], padding: 'x'.repeat(config.intake.maxRequestBytes) });
    const res = await am(huge);
    expect(res.statusCode).toBe(413);
    expect((res.json() as { error: { code: string } }).error.code).toBe('REQUEST_TOO_LARGE');
  });
});

/**
 * Write-back on both backends: a task made by an intake source tells its ticket how it went,
 * through the durable write-back outbox, against the vendors' APIs mocked with msw (unhandled
 * requests fail the test; the simulated operations API on loopback passes through). Jira hears
 * the escalation (the packet's summary, the recommended action, the console link) and then the
 * completion (a comment and the transition); PagerDuty a note and the resolve; a GitHub comment
 * whose API is down at first is delivered once it answers; a webhook gets the signed outcome.
 * Each request is sent once however often the deliverer runs.
 */
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DeploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { verifyWebhook } from '../../src/escalation/webhook-signature.js';
import { receiveIntake } from '../../src/intake/receive.js';
import { deliverWritebacks, withWritebacks } from '../../src/intake/writeback.js';
import { complete } from '../../src/orchestrator/operator.js';
import { createMasker, type Masker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { listWritebacks } from '../../src/store/intake-log.js';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { harness, type Harness } from '../helpers/harness.js';
import { fixture, GH_API, intakeConfig, JIRA_SITE, OUT_URL, PD_API, SECRETS, sign } from './config.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}
const seen: Seen[] = [];
const unhandled: string[] = [];
let ghAnswers: number[] = [];
const record = async (request: Request) => {
  seen.push({ method: request.method, url: request.url, headers: Object.fromEntries(request.headers.entries()), body: await request.text() });
};
const server = setupServer(
  http.post(`${JIRA_SITE}/rest/api/3/issue/:key/comment`, async ({ request }) => (await record(request), HttpResponse.json({ id: '10000' }, { status: 201 }))),
  http.post(`${JIRA_SITE}/rest/api/3/issue/:key/transitions`, async ({ request }) => (await record(request), new HttpResponse(null, { status: 204 }))),
  http.post(`${PD_API}/incidents/:id/notes`, async ({ request }) => (await record(request), HttpResponse.json({ note: { id: 'PWL7QXS' } }, { status: 201 }))),
  http.put(`${PD_API}/incidents/:id`, async ({ request }) => (await record(request), HttpResponse.json({ incident: { id: 'PGR0VU2', status: 'resolved' } }))),
  http.post(`${GH_API}/repos/:owner/:repo/issues/:n/comments`, async ({ request }) => {
    await record(request);
    const status = ghAnswers.shift() ?? 201;
    return status === 201 ? HttpResponse.json({ id: 1 }, { status }) : HttpResponse.json({ message: 'Service Unavailable' }, { status });
  }),
  http.post(OUT_URL, async ({ request }) => (await record(request), new HttpResponse(null, { status: 204 }))),
);
server.events.on('request:unhandled', ({ request }) => {
  if (new URL(request.url).hostname !== '127.0.0.1') unhandled.push(`${request.method} ${request.url}`);
});

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
  server.listen({ onUnhandledRequest: 'bypass' });
});
afterAll(async () => {
  server.close();
  await sim.close();
});
beforeEach(() => {
  sim.reset();
  seen.length = 0;
  unhandled.length = 0;
  ghAnswers = [];
});
afterEach(() => expect(unhandled).toEqual([]));

const later = (ms: number) => () => new Date(Date.now() + ms);

describeBackends('write-back to the origin', ({ db }) => {
  let h: Harness;
  let config: DeploymentConfig;
  let masker: Masker;
  let hooks: ReturnType<typeof withWritebacks<ReturnType<typeof escalationHooks>>>;
  beforeAll(async () => {
    h = await harness(db(), sim);
    config = await intakeConfig(sim.url);
    masker = createMasker(config.secretValues());
    hooks = withWritebacks(escalationHooks({ config, runbooks: h.runbooks, masker }), { config });
  });
  const deliver = (now = () => new Date()) => deliverWritebacks({ db: db(), config, masker, now });
  const deps = () => ({ db: db(), config, runbooks: h.runbooks, now: () => new Date(), onAction: hooks.onAction });
  const work = () => h.work({ hooks: hooks.hooks });

  async function fromSource(source: 'jira' | 'pd' | 'gh' | 'hook', body: string, headers: Record<string, string>): Promise<string> {
    const res = await receiveIntake(deps(), source, { body: Buffer.from(body), headers, bearerOk: false });
    expect(res.status).toBe(200);
    const [r] = res.event!.results;
    expect(r).toMatchObject({ result: 'created' });
    return r!.taskId!;
  }

  it('jira: the escalation and then the completion are written to the issue, each once', async () => {
    const body = (await fixture('jira-issue-created.json')).replaceAll('OPS-4211', 'OPS-5001').replace('"name": "billing-api"', '"name": "wb-jira"');
    const id = await fromSource('jira', body, sign.jira(body));
    sim.setService('wb-jira', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/wb-jira/restart', status: 403 });
    await work();
    expect((await getTask(db(), id))!.state).toBe('escalated');
    expect(await deliver()).toMatchObject({ delivered: 1 });
    expect(await deliver()).toMatchObject({ delivered: 0 });
    expect(seen).toHaveLength(1);
    const c = seen[0]!;
    expect(c.url).toBe(`${JIRA_SITE}/rest/api/3/issue/OPS-5001/comment`);
    expect(c.headers.authorization).toBe(`Basic ${Buffer.from(`ops-bot@acme.test:${SECRETS.JIRA_API_TOKEN}`).toString('base64')}`);
    const adf = JSON.parse(c.body) as { body: { type: string; content: Array<{ content: Array<{ text: string }> }> } };
    expect(adf.body.type).toBe('doc');
    const text = adf.body.content.map((p) => p.content[0]!.text).join('\n');
    expect(text).toMatch(new RegExp(`runwarden task ${id} escalated`));
    expect(text).toMatch(/Recommended: \w+/);
    expect(text).toContain(`https://runwarden.example.test/tasks/${id}`);

    seen.length = 0;
    await complete({ db: db(), runbooks: h.runbooks, now: new Date(), onAction: hooks.onAction }, id, { operator: 'ana', reason: 'restarted by hand' });
    expect(await deliver()).toMatchObject({ delivered: 2 });
    expect(seen.map((s) => s.url)).toEqual([`${JIRA_SITE}/rest/api/3/issue/OPS-5001/comment`, `${JIRA_SITE}/rest/api/3/issue/OPS-5001/transitions`]);
    expect(JSON.parse(seen[1]!.body)).toEqual({ transition: { id: '31' } });
    expect(seen[0]!.body).toMatch(/ended completed/);
    const ledger = (await listEvents(db(), id)).filter((e) => e.type === 'writeback.delivery');
    expect(ledger.map((e) => [e.data.action, e.data.ok])).toEqual([
      ['comment', true],
      ['comment', true],
      ['transition', true],
    ]);
    // Nothing secret in what the ledger kept.
    expect(JSON.stringify(await listEvents(db(), id))).not.toContain(SECRETS.JIRA_API_TOKEN);
  });

  it('pagerduty: a completed task adds a note to the incident and resolves it', async () => {
    const body = (await fixture('pagerduty-incident-triggered.json')).replaceAll('PGR0VU2', 'PWB0001').replace('"summary": "billing-api"', '"summary": "wb-pd"');
    const id = await fromSource('pd', body, sign.pagerduty(body));
    sim.setService('wb-pd', { status: 'degraded' });
    await work();
    expect((await getTask(db(), id))!.state).toBe('completed');
    expect(await deliver()).toMatchObject({ delivered: 2 });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([`POST ${PD_API}/incidents/PWB0001/notes`, `PUT ${PD_API}/incidents/PWB0001`]);
    expect(seen[0]!.headers).toMatchObject({ authorization: `Token token=${SECRETS.PD_API_TOKEN}`, from: 'oncall@acme.test' });
    expect((JSON.parse(seen[0]!.body) as { note: { content: string } }).note.content).toMatch(/ended completed/);
    expect(JSON.parse(seen[1]!.body)).toEqual({ incident: { type: 'incident_reference', status: 'resolved' } });
  });

  it('github: a comment whose API is down is retried and delivered once it answers', async () => {
    const body = (await fixture('github-issues-opened.json')).replace('"number": 42', '"number": 77').replace('service: billing-api', 'service: wb-gh');
    const id = await fromSource('gh', body, sign.github(body));
    sim.setService('wb-gh', { status: 'degraded' });
    await work();
    ghAnswers = [503];
    expect(await deliver()).toMatchObject({ delivered: 0, retrying: 1 });
    const [row] = await listWritebacks(db(), { taskId: id });
    expect(row).toMatchObject({ state: 'pending', attempts: 1 });
    expect(row!.lastError).toMatch(/HTTP 503/);
    // Not due yet: nothing is sent.
    expect(await deliver()).toMatchObject({ delivered: 0, retrying: 0 });
    expect(await deliver(later(3_600_000))).toMatchObject({ delivered: 1 });
    expect(seen.map((s) => s.url)).toEqual([`${GH_API}/repos/acme/ops-requests/issues/77/comments`, `${GH_API}/repos/acme/ops-requests/issues/77/comments`]);
    expect(seen[1]!.headers.authorization).toBe(`Bearer ${SECRETS.GH_API_TOKEN}`);
    expect((await listWritebacks(db(), { taskId: id }))[0]).toMatchObject({ state: 'delivered', attempts: 2 });
    const ledger = (await listEvents(db(), id)).filter((e) => e.type === 'writeback.delivery');
    expect(ledger.map((e) => e.data.ok)).toEqual([false, true]);
  });

  it('pagerduty, github and webhook each hear the escalation with the packet summary and the recommended action', async () => {
    const pdBody = (await fixture('pagerduty-incident-triggered.json')).replaceAll('PGR0VU2', 'PWB0002').replace('"summary": "billing-api"', '"summary": "wb-esc-pd"');
    const ghBody = (await fixture('github-issues-opened.json')).replace('"number": 42', '"number": 78').replace('service: billing-api', 'service: wb-esc-gh');
    const hookBody = JSON.stringify({ type: 'restart.requested', ticket: 'CHG-WB3', service: 'wb-esc-hook', requester: 'change-board' });
    const ids = [await fromSource('pd', pdBody, sign.pagerduty(pdBody)), await fromSource('gh', ghBody, sign.github(ghBody)), await fromSource('hook', hookBody, sign.webhook(hookBody, 'msg_wb3'))];
    for (const svc of ['wb-esc-pd', 'wb-esc-gh', 'wb-esc-hook']) {
      sim.setService(svc, { status: 'degraded' });
      sim.fault({ method: 'POST', path: `/services/${svc}/restart`, status: 403 });
    }
    await work();
    for (const id of ids) expect((await getTask(db(), id))!.state).toBe('escalated');
    expect(await deliver()).toMatchObject({ delivered: 3 });
    const to = (prefix: string) => seen.find((r) => r.url.startsWith(prefix))!;
    const pd = JSON.parse(to(`${PD_API}/incidents/PWB0002/notes`).body) as { note: { content: string } };
    expect(pd.note.content).toMatch(new RegExp(`runwarden task ${ids[0]} escalated\nt-restart for wb-esc-pd.*\nRecommended: `, 's'));
    const gh = JSON.parse(to(`${GH_API}/repos/acme/ops-requests/issues/78/comments`).body) as { body: string };
    expect(gh.body).toMatch(/Recommended: \w+/);
    expect(gh.body).toContain(`https://runwarden.example.test/tasks/${ids[1]}`);
    const hook = JSON.parse(to(OUT_URL).body) as { type: string; data: { taskId: string; state: string; recommendation: { action: string } } };
    expect(hook).toMatchObject({ type: 'task.escalated', data: { taskId: ids[2], state: 'escalated' } });
    expect(hook.data.recommendation.action).toEqual(expect.any(String));
  });

  it('webhook: the outcome is POSTed signed per Standard Webhooks, and a rejected request is told too', async () => {
    const good = JSON.stringify({ type: 'restart.requested', ticket: 'CHG-WB1', service: 'wb-hook', requester: 'change-board' });
    const id = await fromSource('hook', good, sign.webhook(good, 'msg_wb1'));
    sim.setService('wb-hook', { status: 'degraded' });
    await work();
    const bad = JSON.stringify({ type: 'restart.requested', ticket: 'CHG-WB2', service: 'Not Valid', requester: 'change-board' });
    const res = await receiveIntake(deps(), 'hook', { body: Buffer.from(bad), headers: sign.webhook(bad, 'msg_wb2'), bearerOk: false });
    expect(res.event!.results[0]).toMatchObject({ result: 'rejected' });
    expect(await deliver()).toMatchObject({ delivered: 2 });
    const bodies = seen.map((s) => {
      expect(verifyWebhook({ headers: s.headers, body: s.body, secret: SECRETS.OUT_SECRET, now: new Date() })).toBe(true);
      return JSON.parse(s.body) as { type: string; data: { taskId: string; state: string; summary: string } };
    });
    expect(bodies.find((b) => b.data.taskId === id)).toMatchObject({ type: 'task.ended', data: { state: 'completed' } });
    const rejected = bodies.find((b) => b.data.state === 'rejected')!;
    expect(rejected.data.summary).toMatch(/refused at intake: invalid_input/);
  });
});

/**
 * The console over fastify `inject`, on both backends: sign-in and sessions, the inbox, the task
 * page and its action forms, CSRF refusal, a viewer who sees no forms and is refused when it
 * posts one, confirmation before repeating a once step, escaping and masking, security headers.
 */
import type { FastifyInstance } from 'fastify';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness, OPS_TOKEN, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { actionsAllowedFrom } from '../../src/lifecycle/transitions.js';
import { deploymentConfig } from '../../src/config/deployment-config.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { loadRunbooksOrThrow } from '../../src/runtime.js';
import { createMasker } from '../../src/secrets/mask.js';
import { createService } from '../../src/service.js';
import { buildReport } from '../../src/store/report.js';
import { silentLogger } from '../../src/log.js';
import { Browser, consoleApp, csrfOf, mutableTokens, TOKENS } from './client.js';

const sim = useSim();

const EMAIL = 'planted.person@example.org';
/** One step that sends a sensitive input to the API, whose error echoes it back. */
const SENSITIVE_RUNBOOK = `
runbook: t-sensitive
version: 1
title: Send a sensitive value (test)
owner: test
taskClasses: [t.sensitive]
input:
  type: object
  required: [email]
  properties: { email: { type: string, sensitive: true } }
systems:
  ops: { baseUrl: "\${env.OPS_API_URL}", headers: { Authorization: "Bearer \${secrets.OPS_API_TOKEN}" } }
steps:
  - id: register
    action: http
    with: { system: ops, method: POST, path: /crm/accounts, idempotencyKey: "register:\${input.email}", body: { customer: "\${input.email}", plan: pro } }
    repeat: keyed
`;

/** The action names of the forms on a page (`/tasks/<id>/actions/<name>`). */
const formsOn = (body: string) => [...body.matchAll(/<form method="post" action="\/tasks\/[^/"]+\/actions\/([a-z]+)"/g)].map((m) => m[1]);

describeBackends('console', ({ db }) => {
  let h: Harness;
  let app: FastifyInstance;
  let tokens: ReturnType<typeof mutableTokens>;
  beforeEach(async () => {
    h = await harness(db(), sim());
    tokens = mutableTokens();
    app = consoleApp({ db: db(), runbooks: h.runbooks, masker: createMasker([OPS_TOKEN]), tokens });
    await app.ready();
  });
  // Packets are written by the worker's checkpoint hooks, as `serve` and `work` run it.
  const work = () => h.work({ hooks: escalationHooks({ config: deploymentConfig(), runbooks: h.runbooks, masker: createMasker([OPS_TOKEN]) }).hooks });
  afterEach(async () => {
    await app.close();
  });

  /** A task stopped by a permission failure at `restart` (escalated, non_retryable). */
  async function escalated(service: string, extra: Record<string, unknown> = {}): Promise<string> {
    sim().setService(service, { status: 'degraded' });
    sim().fault({ method: 'POST', path: `/services/${service}/restart`, status: 403, times: 1 });
    const t = await h.submit('t.restart', { service }, extra);
    await work();
    expect((await h.task(t.id)).state).toBe('escalated');
    return t.id;
  }

  it('sends a signed-out visitor to sign-in, refuses a bad token, and signs in with a good one into an httpOnly SameSite=Strict cookie', async () => {
    const b = new Browser(app);
    const first = await b.get('/');
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe('/login?next=%2F');

    const bad = await b.signIn('not-a-token');
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('That token is not valid');
    expect(b.cookies.has('rw_session')).toBe(false);

    const intake = await b.signIn(TOKENS.queue.token);
    expect(intake.statusCode).toBe(401);
    expect(b.cookies.has('rw_session')).toBe(false);

    const ok = await b.signIn(TOKENS.ana.token);
    expect(ok.statusCode).toBe(303);
    const setCookie = ([] as string[]).concat(ok.headers['set-cookie'] ?? []).find((c) => c.startsWith('rw_session='));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const inbox = await b.get('/');
    expect(inbox.statusCode).toBe(200);
    expect(inbox.body).toContain('signed in as <strong>ana</strong> (operator)');
  });

  it("takes a responder from a packet's links.task through sign-in to the task", async () => {
    const id = await escalated('api');
    const b = new Browser(app);
    const first = await b.get(`/tasks/${id}`);
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe(`/login?next=${encodeURIComponent(`/tasks/${id}`)}`);
    const login = await b.get(first.headers.location as string);
    expect(login.body).toContain(`name="next" value="/tasks/${id}"`);
    const signed = await b.post('/login', { _csrf: csrfOf(login.body), token: TOKENS.ana.token, next: `/tasks/${id}` });
    expect(signed.statusCode).toBe(303);
    expect(signed.headers.location).toBe(`/tasks/${id}`);
    expect((await b.get(`/tasks/${id}`)).statusCode).toBe(200);
    const c = new Browser(app);
    const form = await c.get('/login?next=https%3A%2F%2Fevil.example%2F');
    expect(form.body).toContain('name="next" value="/"');
    const away = await c.post('/login', { _csrf: csrfOf(form.body), token: TOKENS.ana.token, next: 'https://evil.example/' });
    expect(away.statusCode).toBe(303);
    expect(away.headers.location).toBe('/');
  });

  it('refuses a sign-in without the form token (a cross-site post)', async () => {
    const res = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${TOKENS.ana.token}` });
    expect(res.statusCode).toBe(403);
    expect(res.headers['set-cookie'] ?? '').not.toContain('rw_session=');
  });

  it('lists escalated tasks newest first with reason, route, runbook, age and the recommended action; approvals apart', async () => {
    const older = await escalated('api-a', { externalRef: 'INC-1' });
    const newer = await escalated('api-b', { externalRef: 'INC-2' });
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const res = await b.get('/');
    expect(res.statusCode).toBe(200);
    const items = [...res.body.matchAll(/data-testid="inbox-item" data-task="([^"]+)"/g)].map((m) => m[1]);
    // The file's tests share a database: other escalated tasks may be listed, older ones after these.
    expect(items.indexOf(newer)).toBeGreaterThanOrEqual(0);
    expect(items.indexOf(newer)).toBeLessThan(items.indexOf(older));
    expect(res.body).toContain(`${items.length} tasks need you`);
    expect(res.body).toContain('Failed, not retryable: INC-2');
    expect(res.body).toMatch(/<dt>route<\/dt><dd>platform-oncall<\/dd>/);
    expect(res.body).toMatch(/<dt>runbook<\/dt><dd>t-restart v1<\/dd>/);
    expect(res.body).toMatch(/Recommended: <strong class="action">[a-z]+<\/strong>/);
    expect(res.body).toMatch(/waiting <time datetime="[^"]+" title="[^"]+">\d+ (ms|s) ago<\/time>/);
  });

  it('shows an operator exactly the forms the state allows, and records the signed-in name, not a form field', async () => {
    const id = await escalated('api');
    const b = new Browser(app);
    await b.signIn(TOKENS.ana.token);
    const pageRes = await b.get(`/tasks/${id}`);
    expect(pageRes.statusCode).toBe(200);
    expect(formsOn(pageRes.body).sort()).toEqual(actionsAllowedFrom('escalated').sort());
    expect(pageRes.body).toContain('data-testid="packet"');

    const took = await b.post(`/tasks/${id}/actions/takeover`, { _csrf: csrfOf(pageRes.body), reason: 'checking the API by hand', operator: 'mallory' });
    expect(took.statusCode).toBe(303);
    expect(took.headers.location).toBe(`/tasks/${id}?done=takeover`);
    expect((await h.task(id)).state).toBe('in_handover');
    const op = (await h.events(id)).filter((e) => e.type === 'operator.action');
    expect(op).toHaveLength(1);
    expect(op[0]).toMatchObject({ actor: 'operator:ana', data: { action: 'takeover', operator: 'ana', reason: 'checking the API by hand' } });

    const after = await b.get(took.headers.location as string);
    expect(after.body).toContain('Done: takeover, recorded in the ledger under your name');
    expect(formsOn(after.body).sort()).toEqual(actionsAllowedFrom('in_handover').sort());
  });

  it('lists an approval waiting apart, and approves it through its form under the signed-in name', async () => {
    const t = await h.submit('t.approval', { order: 'ord-9', amount: 5000 }, { externalRef: 'CHG-9' });
    await work();
    expect((await h.task(t.id)).state).toBe('awaiting_approval');
    const b = new Browser(app);
    await b.signIn(TOKENS.ana.token);
    const inbox = await b.get('/');
    expect(inbox.body).toMatch(/Approvals waiting \(\d+\)/);
    expect(inbox.body).toMatch(new RegExp(`data-testid="approval-item">\\s*<td><a href="/tasks/${t.id}">CHG-9</a>`));
    const pageRes = await b.get(`/tasks/${t.id}`);
    expect(formsOn(pageRes.body).sort()).toEqual(actionsAllowedFrom('awaiting_approval').sort());
    const res = await b.post(`/tasks/${t.id}/actions/approve`, { _csrf: csrfOf(pageRes.body), reason: 'amount matches the order' });
    expect(res.statusCode).toBe(303);
    expect((await h.task(t.id)).state).toBe('queued');
    expect((await h.events(t.id)).find((e) => e.type === 'approval.decided')?.data).toMatchObject({ granted: true, by: 'ana' });
  });

  it('refuses an action without a reason and changes nothing', async () => {
    const id = await escalated('api');
    const b = new Browser(app);
    await b.signIn(TOKENS.ana.token);
    const res = await b.submit(`/tasks/${id}`, `/tasks/${id}/actions/takeover`, { reason: '   ' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('takeover was not done');
    expect((await h.task(id)).state).toBe('escalated');
  });

  it('refuses a form post without a CSRF token, or with one from another session', async () => {
    const id = await escalated('api');
    const ana = new Browser(app);
    await ana.signIn(TOKENS.ana.token);
    const none = await ana.post(`/tasks/${id}/actions/takeover`, { reason: 'r' });
    expect(none.statusCode).toBe(403);
    const other = new Browser(app);
    await other.signIn(TOKENS.root.token);
    const foreign = csrfOf((await other.get(`/tasks/${id}`)).body);
    const crossed = await ana.post(`/tasks/${id}/actions/takeover`, { _csrf: foreign, reason: 'r' });
    expect(crossed.statusCode).toBe(403);
    expect(crossed.body).toContain('This form was refused');
    expect((await h.task(id)).state).toBe('escalated');
    expect((await h.events(id)).filter((e) => e.type === 'operator.action')).toHaveLength(0);
  });

  it('shows a viewer no action forms, and refuses its post with 403', async () => {
    const id = await escalated('api');
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const pageRes = await b.get(`/tasks/${id}`);
    expect(pageRes.statusCode).toBe(200);
    expect(formsOn(pageRes.body)).toEqual([]);
    expect(pageRes.body).toContain('data-testid="read-only"');
    const res = await b.post(`/tasks/${id}/actions/takeover`, { _csrf: csrfOf(pageRes.body), reason: 'viewer tries' });
    expect(res.statusCode).toBe(403);
    expect((await h.task(id)).state).toBe('escalated');
  });

  it('asks before retrying a once step without a probe, as the CLI asks for --yes, then does it', async () => {
    sim().fault({ method: 'POST', path: '/billing/charges', status: 403, times: 1 });
    const t = await h.submit('t.charge-noprobe', { order: 'ord-1' });
    await work();
    expect((await h.task(t.id)).state).toBe('escalated');
    const b = new Browser(app);
    await b.signIn(TOKENS.ana.token);
    const ask = await b.submit(`/tasks/${t.id}`, `/tasks/${t.id}/actions/retry`, { reason: 'the charge was refused, not taken' });
    expect(ask.statusCode).toBe(409);
    expect(ask.body).toContain('data-testid="form-confirm"');
    expect(ask.body).toContain('running it again may repeat its effect');
    expect((await h.task(t.id)).state).toBe('escalated');
    const yes = await b.post(`/tasks/${t.id}/actions/retry`, { _csrf: csrfOf(ask.body), reason: 'the charge was refused, not taken', yes: '1' });
    expect(yes.statusCode).toBe(303);
    expect((await h.task(t.id)).state).toBe('queued');
    const op = (await h.events(t.id)).find((e) => e.type === 'operator.action');
    expect(op?.data).toMatchObject({ action: 'retry', confirmedReplayOfOnceStep: true });
  });

  it('escapes what tasks carry and masks the deployment secrets', async () => {
    const id = await escalated('api', { externalRef: '<script>alert(1)</script>', requestedBy: `queue:${OPS_TOKEN}` });
    const b = new Browser(app);
    await b.signIn(TOKENS.ana.token);
    for (const url of ['/', '/tasks', `/tasks/${id}`]) {
      const res = await b.get(url);
      expect(res.body, url).not.toContain('<script>alert(1)</script>');
      expect(res.body, url).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(res.body, url).not.toContain(OPS_TOKEN);
    }
  });

  it('masks inputs the runbook marks sensitive, in the view, the packet, the attempts and the ledger', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-console-'));
    await writeFile(join(dir, 't-sensitive.yaml'), SENSITIVE_RUNBOOK);
    const runbooks = await loadRunbooksOrThrow(dir);
    const config = deploymentConfig({ env: { OPS_API_URL: sim().url }, secrets: { OPS_API_TOKEN: OPS_TOKEN } });
    const masker = createMasker(config.secretValues());
    sim().setState({ token: OPS_TOKEN });
    sim().fault({ method: 'POST', path: '/crm/accounts', status: 400, echoHeaders: true });
    const { task } = await submitTask(db(), runbooks, { taskClass: 't.sensitive', input: { email: EMAIL }, requestedBy: 'test' }, { now: new Date(), env: { ...config.env }, secrets: { ...config.secrets } });
    await createService({ db: db(), config, runbooks, masker, logger: silentLogger }, { pollMs: 50, leaseMs: 5000 }).runUntilIdle();
    expect((await h.task(task.id)).state).toBe('escalated');
    const own = consoleApp({ db: db(), runbooks, masker });
    try {
      const b = new Browser(own);
      await b.signIn(TOKENS.ana.token);
      for (const url of ['/', `/tasks/${task.id}`, '/tasks']) {
        const res = await b.get(url);
        expect(res.statusCode, url).toBe(200);
        expect(res.body, url).not.toContain(EMAIL);
        expect(res.body, url).not.toContain(OPS_TOKEN);
      }
      const pageRes = await b.get(`/tasks/${task.id}`);
      expect(pageRes.body).toContain('&quot;email&quot;: &quot;***&quot;');
      expect(pageRes.body).toContain('data-testid="packet"');
    } finally {
      await own.close();
    }
  });

  it('sends security headers and keeps pages out of caches', async () => {
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const res = await b.get('/');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('ends the sessions of a revoked token at once, and signs out', async () => {
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    expect((await b.get('/')).statusCode).toBe(200);
    tokens.revoke('vic');
    expect((await b.get('/')).statusCode).toBe(303);

    const c = new Browser(app);
    await c.signIn(TOKENS.ana.token);
    const home = await c.get('/');
    const out = await c.post('/logout', { _csrf: csrfOf(home.body) });
    expect(out.statusCode).toBe(303);
    expect((await c.get('/')).statusCode).toBe(303);
  });

  it('filters tasks from the URL, and shows the runbooks with their versions and repeat safety', async () => {
    const id = await escalated('api');
    const other = await h.submit('t.charge-noprobe', { order: 'ord-2' });
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const all = await b.get('/tasks');
    expect(all.body).toContain(id);
    expect(all.body).toContain(other.id);
    const esc = await b.get('/tasks?state=escalated');
    expect(esc.body).toContain(id);
    expect(esc.body).not.toContain(other.id);
    expect(esc.body).toContain('<option value="escalated" selected>');
    const byRunbook = await b.get('/tasks?runbook=t-charge-noprobe');
    expect(byRunbook.body).toContain(other.id);
    expect(byRunbook.body).not.toContain(id);
    const byClass = await b.get('/tasks?class=t.restart');
    expect(byClass.body).toContain(id);
    expect(byClass.body).not.toContain(other.id);

    const first = await b.get('/tasks?limit=1');
    expect(first.body).toContain(other.id);
    expect(first.body).not.toContain(id);
    const next = /data-testid="next-page"|href="(\/tasks\?limit=1&amp;after=[^"]+)"/.exec(first.body);
    const href = /href="(\/tasks\?limit=1&amp;after=[^"]+)"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&');
    expect(next && href).toBeTruthy();
    const second = await b.get(href!);
    expect(second.body).toContain(id);
    expect(second.body).not.toContain(other.id);
    expect((await b.get('/tasks?after=not-a-cursor')).statusCode).toBe(400);

    const rb = await b.get('/runbooks');
    expect(rb.statusCode).toBe(200);
    expect(rb.body).toContain('t-charge-noprobe v1');
    expect(rb.body).toMatch(/<strong>charge<\/strong>[\s\S]*?once<\/span> once: a repeat could apply the effect twice \(no probe\)/);
    const report = await b.get('/report');
    expect(report.statusCode).toBe(200);
    // The database holds the tasks of every test of this file: the chart must say what
    // `runwarden report` computes over them, and the escalations at restart make it non-zero.
    const figures = await buildReport(db(), { now: new Date(), since: new Date(Date.now() - 7 * 86_400_000) });
    const restart = figures.runbooks.find((r) => r.runbook === 't-restart')!.steps.find((s) => s.step === 'restart')!;
    expect(restart.pauses).toBeGreaterThan(0);
    expect(report.body).toContain(`<title>t-restart · restart: ${Math.round(restart.pauseRate! * 100)}% (${restart.pauses} of ${restart.tasks})</title>`);
    expect(report.body).toContain(`<td>t-restart</td><td>${figures.runbooks.find((r) => r.runbook === 't-restart')!.tasks}</td>`);
    const narrowed = await b.get('/report?since=1h&runbook=t-charge-noprobe');
    expect(narrowed.body).not.toContain('t-restart · restart');
  });
});

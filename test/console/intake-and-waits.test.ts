/**
 * The console's intake page and what waiting tasks wait for, over fastify `inject`, on both
 * backends:
 * - requests posted to a real intake source (Alertmanager groups through POST /v1/intake/alerts)
 *   show on /intake newest first with what each became: a task made (linked), deduplicated,
 *   rejected, refused, excluded, cancelled and ignored units, and requests refused whole
 *   (unauthorized, invalid), each with its reason, escaped; filtered by source in the URL; paged;
 *   readable by a viewer;
 * - a task queued behind a concurrency key says so on its page and in the task list, with the key,
 *   its limit and a link to the task holding it (a key from a sensitive input masked); a task
 *   between roles says whose work is next.
 */
import type { FastifyInstance } from 'fastify';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createExecutor } from '../../src/agents/index.js';
import { loadConfig, type DeploymentConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { createMasker } from '../../src/secrets/mask.js';
import { claimTasks } from '../../src/store/claim.js';
import { getTask } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fixtureRunbooks, FIXTURE_RUNBOOKS, OPS_TOKEN, shiftedClock } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { Browser, consoleApp, TOKENS } from './client.js';

const sim = useSim();

const EVIL = `<script>alert('x')</script>`;

const CONFIG_YAML = `
env: [OPS_API_URL]
secrets: { OPS_API_TOKEN: { env: OPS_API_TOKEN } }
intake:
  sources:
    alerts:
      type: alertmanager
      onResolved: cancel
      mapping:
        when: "event.status == 'firing' && event.labels.env == 'production'"
        taskClass: "event.labels.kind"
        input: "{'service': event.labels.service}"
    hook:
      type: webhook
      mapping:
        taskClass: "'t.restart'"
        externalRef: "payload.ticket"
        input: "{'service': payload.service}"
`;

async function config(): Promise<DeploymentConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'rw-console-intake-'));
  const path = join(dir, 'runwarden.yaml');
  await writeFile(path, CONFIG_YAML);
  return loadConfig({ path, env: { OPS_API_URL: sim().url, OPS_API_TOKEN: OPS_TOKEN } });
}

/** An Alertmanager alert as its webhook (version 4) carries it. */
function alert(fingerprint: string, labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing') {
  return {
    status,
    labels: { alertname: 'ServiceDown', severity: 'critical', ...labels },
    annotations: { summary: `${labels.service ?? 'a service'} is down` },
    startsAt: '2026-12-01T17:58:03.112Z',
    endsAt: status === 'resolved' ? '2026-12-01T18:04:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example.com:9090/graph',
    fingerprint,
  };
}
const group = (alerts: unknown[], status = 'firing') => JSON.stringify({ version: '4', groupKey: '{}:{alertname="ServiceDown"}', truncatedAlerts: 0, status, receiver: 'runwarden', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://alertmanager.example.com:9093', alerts });

/** The `data-event` ids of the intake page's events, in page order. */
const eventsOn = (body: string) => [...body.matchAll(/data-testid="intake-event" data-event="([^"]+)" data-outcome="([a-z]+)"/g)].map((m) => ({ id: m[1]!, outcome: m[2]! }));
/** One event's card on the page. */
const cardOf = (body: string, id: string) => {
  const start = body.indexOf(`data-event="${id}"`);
  expect(start).toBeGreaterThan(0);
  const end = body.indexOf('</article>', start);
  return body.slice(start, end);
};
const unitsIn = (card: string) => [...card.matchAll(/data-testid="intake-unit" data-result="([a-z]+)"/g)].map((m) => m[1]);

describeBackends('console intake page', ({ db }) => {
  let app: FastifyInstance;
  const clock = shiftedClock();
  const ids: Record<string, string> = {};
  let made = '';

  const post = async (source: string, body: string, token: string = TOKENS.queue.token) => {
    // Each request a second after the one before: the log's order is the order they came in.
    clock.advance(1000);
    const res = await app.inject({ method: 'POST', url: `/v1/intake/${source}`, payload: body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    return { status: res.statusCode, json: res.json() as { event: string; results?: Array<{ result: string; taskId?: string }> } };
  };

  beforeAll(async () => {
    app = consoleApp({ db: db(), runbooks: await fixtureRunbooks(), masker: createMasker([OPS_TOKEN]), config: await config(), clock });
    await app.ready();
    const units = [
      alert('fp-made', { env: 'production', kind: 't.restart', service: 'billing-api' }),
      alert('fp-staging', { env: 'staging', kind: 't.restart', service: 'search-api' }),
      alert('fp-evil', { env: 'production', kind: EVIL, service: 'ledger-api' }),
      alert('fp-nosvc', { env: 'production', kind: 't.restart' }),
    ];
    const first = await post('alerts', group(units));
    expect(first.status).toBe(200);
    expect(first.json.results!.map((r) => r.result)).toEqual(['created', 'excluded', 'rejected', 'refused']);
    ids.first = first.json.event;
    made = first.json.results![0]!.taskId!;
    ids.again = (await post('alerts', group(units.slice(0, 1)))).json.event;
    ids.resolved = (await post('alerts', group([alert('fp-made', { env: 'production', kind: 't.restart', service: 'billing-api' }, 'resolved'), alert('fp-never', { env: 'production', kind: 't.restart', service: 'x' }, 'resolved')], 'resolved'))).json.event;
    const bad = await post('alerts', group(units), 'not-a-token');
    expect(bad.status).toBe(401);
    ids.unauthorized = bad.json.event;
    const invalid = await post('alerts', JSON.stringify({ version: '3', alerts: 'none' }));
    expect(invalid.status).toBe(400);
    ids.invalid = invalid.json.event;
    ids.hook = (await post('hook', JSON.stringify({ ticket: 'OPS-77', service: 'queue-api' }))).json.event;
  });
  afterAll(() => app.close());

  it('shows every request newest first with what each unit became, the task links and the reasons, to a viewer', async () => {
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const res = await b.get('/intake');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<a href="\/intake" aria-current="page">Intake<\/a>/);
    expect(eventsOn(res.body)).toEqual([
      { id: ids.hook, outcome: 'processed' },
      { id: ids.invalid, outcome: 'invalid' },
      { id: ids.unauthorized, outcome: 'unauthorized' },
      { id: ids.resolved, outcome: 'processed' },
      { id: ids.again, outcome: 'processed' },
      { id: ids.first, outcome: 'processed' },
    ]);

    const first = cardOf(res.body, ids.first!);
    expect(unitsIn(first)).toEqual(['created', 'excluded', 'rejected', 'refused']);
    expect(first).toContain(`<a href="/tasks/${made}" data-testid="intake-task">`);
    expect(first).toContain("the mapping&#39;s when is false");
    expect(first).toMatch(/data-testid="intake-reason">mapping failed: [^<]*service/);
    // The rejected unit's task class came from the alert's labels: shown as text, never as markup.
    expect(first).toContain('no runbook handles task class &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;');
    expect(res.body).not.toContain(EVIL);
    expect(first).toContain('<dt>received</dt><dd>');
    expect(first).toContain('1 created, 1 rejected, 1 refused, 1 excluded');

    const again = cardOf(res.body, ids.again!);
    expect(unitsIn(again)).toEqual(['deduplicated']);
    expect(again).toContain(`<a href="/tasks/${made}" data-testid="intake-task">`);

    const resolved = cardOf(res.body, ids.resolved!);
    expect(unitsIn(resolved)).toEqual(['cancelled', 'ignored']);
    expect(resolved).toContain(`<a href="/tasks/${made}" data-testid="intake-task">`);
    expect(resolved).toContain('resolved; no task has this externalRef');
    expect((await getTask(db(), made))!.state).toBe('cancelled');

    expect(cardOf(res.body, ids.unauthorized!)).toMatch(/data-testid="intake-error"><strong>Refused whole, no task made:<\/strong> no bearer token with the intake role/);
    expect(cardOf(res.body, ids.invalid!)).toMatch(/data-testid="intake-error">.*not an Alertmanager webhook/);

    const hook = cardOf(res.body, ids.hook!);
    expect(hook).toMatch(/<a href="\/tasks\/tsk_[^"]+" data-testid="intake-task">OPS-77<\/a>/);
  });

  it('filters by source in the URL, and says so for a source the config no longer has', async () => {
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const alerts = await b.get('/intake?source=alerts');
    expect(eventsOn(alerts.body).map((e) => e.id)).toEqual([ids.invalid, ids.unauthorized, ids.resolved, ids.again, ids.first]);
    expect(alerts.body).toContain('<option value="alerts" selected>alerts (alertmanager)</option>');
    expect(alerts.body).toContain('runwarden intake log --source alerts');
    const hook = await b.get('/intake?source=hook');
    expect(eventsOn(hook.body).map((e) => e.id)).toEqual([ids.hook]);
    const gone = await b.get(`/intake?source=${encodeURIComponent(EVIL)}`);
    expect(gone.statusCode).toBe(200);
    expect(eventsOn(gone.body)).toEqual([]);
    expect(gone.body).toContain('is not a configured source (configured: alerts, hook)');
    expect(gone.body).not.toContain(EVIL);
  });

  it('pages a long log: each page newest first, none repeated, the last says so', async () => {
    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const seen: string[] = [];
    let url: string | undefined = '/intake?source=alerts&limit=2';
    for (let pages = 0; url && pages < 10; pages++) {
      const res = await b.get(url);
      expect(res.statusCode).toBe(200);
      const on = eventsOn(res.body).map((e) => e.id);
      expect(on.length).toBeLessThanOrEqual(2);
      seen.push(...on);
      const next = /<a href="(\/intake\?[^"]+)" data-testid="next-page">/.exec(res.body)?.[1];
      url = next?.replace(/&amp;/g, '&');
      if (!url) expect(res.body).toContain('No older requests.');
    }
    expect(seen).toEqual([ids.invalid, ids.unauthorized, ids.resolved, ids.again, ids.first]);
    const bad = await b.get('/intake?after=not-a-cursor');
    expect(bad.statusCode).toBe(400);
  });
});

describeBackends('console: what a waiting task waits for', ({ db }) => {
  let app: FastifyInstance;
  let runbooks: RunbookSet;
  const masker = createMasker([OPS_TOKEN]);
  const env = () => ({ OPS_API_URL: sim().url });
  const secrets = { OPS_API_TOKEN: OPS_TOKEN };
  const ACCOUNT = 'acct-4417-9921-secret';

  beforeAll(async () => {
    const text = await readFile(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), 'utf8');
    // The restart runbook with a concurrency key per service, and one keyed on a sensitive input.
    const keyed = text
      .replace('runbook: t-restart', 'runbook: t-restart-keyed')
      .replace('taskClasses: [t.restart]', 'taskClasses: [t.restart-keyed]')
      .replace('policy:\n', 'policy:\n  concurrency: { key: "input.service", limit: 1 }\n');
    const secret = keyed
      .replace('runbook: t-restart-keyed', 'runbook: t-restart-account')
      .replace('taskClasses: [t.restart-keyed]', 'taskClasses: [t.restart-account]')
      .replace('key: "input.service"', 'key: "input.account"')
      .replace('    service: { type: string, pattern: "^[a-z0-9-]+$" }\n', '    service: { type: string, pattern: "^[a-z0-9-]+$" }\n    account: { type: string, sensitive: true }\n');
    const compiled = [compileRunbookText(text, 't-restart.yaml'), compileRunbookText(keyed, 't-restart-keyed.yaml'), compileRunbookText(secret, 't-restart-account.yaml')];
    for (const c of compiled) if (!c.runbook) throw new Error(JSON.stringify(c.problems));
    runbooks = buildRunbookSet(compiled.map((c) => c.runbook!));
    app = consoleApp({ db: db(), runbooks, masker });
    await app.ready();
  });
  afterAll(() => app.close());

  const submit = async (taskClass: string, input: Record<string, unknown>) => (await submitTask(db(), runbooks, { taskClass, input, requestedBy: 'test' }, { now: new Date(), env: env(), secrets })).task;

  it('a task between roles says whose work is next', async () => {
    sim().setService('roles-next', { status: 'degraded' });
    const task = await submit('t.restart', { service: 'roles-next' });
    // An execution-only worker runs the steps and hands the checks on to verification.
    await new Worker({ db: db(), runbooks, executor: createExecutor(), logger: silentLogger, env: env(), secrets, mask: (v) => masker.maskValue(v), workerId: 'w-exec', pollMs: 20, leaseMs: 5000, roles: ['execution'] }).runUntilIdle();
    const t = (await getTask(db(), task.id))!;
    expect([t.state, t.leaseOwner, t.awaitingRole]).toEqual(['running', null, 'verification']);

    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const page = await b.get(`/tasks/${task.id}`);
    expect(page.body).toContain('<dd data-testid="waiting-for">verification work next: a worker serving verification takes it up</dd>');
    const list = await b.get('/tasks?state=running');
    const row = list.body.slice(list.body.indexOf(`<a href="/tasks/${task.id}">`));
    expect(row.slice(0, row.indexOf('</tr>'))).toContain('waiting for verification work next');
  });

  it('a task queued behind its concurrency key names the key, its limit and links the task holding it, on its page and in the list', async () => {
    const holder = await submit('t.restart-keyed', { service: 'pay-api' });
    const waiting = await submit('t.restart-keyed', { service: 'pay-api' });
    const free = await submit('t.restart-keyed', { service: 'other-api' });
    // One claim as an execution worker makes it: one task per key admitted, the oldest first.
    const claimed = await claimTasks(db(), { workerId: 'w-console', now: new Date(), leaseMs: 60_000, limit: 10, roles: ['execution'] });
    expect(claimed.map((c) => c.task.id).sort()).toEqual([holder.id, free.id].sort());

    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const page = await b.get(`/tasks/${waiting.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(
      `<dt>waiting for</dt><dd data-testid="waiting-for">concurrency key <code>pay-api</code>: its limit of 1 is taken by <a href="/tasks/${holder.id}" data-testid="holder">${holder.id}</a> (running)</dd>`,
    );
    // The holder itself waits for nothing.
    expect((await b.get(`/tasks/${holder.id}`)).body).not.toContain('data-testid="waiting-for"');

    const list = await b.get('/tasks?state=queued');
    const row = list.body.slice(list.body.indexOf(`<a href="/tasks/${waiting.id}">`));
    expect(row.slice(0, row.indexOf('</tr>'))).toContain(`waiting for concurrency key <code>pay-api</code>: its limit of 1 is taken by <a href="/tasks/${holder.id}" data-testid="holder">`);
    // The holder runs, waiting for nothing.
    const running = await b.get('/tasks?state=running');
    const held = running.body.slice(running.body.indexOf(`<a href="/tasks/${holder.id}">`));
    expect(held).not.toBe(running.body);
    expect(held.slice(0, held.indexOf('</tr>'))).not.toContain('data-testid="waiting-for"');
  });

  it('masks a concurrency key that is a sensitive input, in the list and on the page', async () => {
    const holder = await submit('t.restart-account', { service: 'acct-a', account: ACCOUNT });
    const waiting = await submit('t.restart-account', { service: 'acct-b', account: ACCOUNT });
    await claimTasks(db(), { workerId: 'w-console', now: new Date(), leaseMs: 60_000, limit: 10, roles: ['execution'] });
    expect((await getTask(db(), holder.id))!.state).toBe('running');
    expect((await getTask(db(), waiting.id))!.concurrencyKey).toBe(ACCOUNT);

    const b = new Browser(app);
    await b.signIn(TOKENS.vic.token);
    const page = await b.get(`/tasks/${waiting.id}`);
    expect(page.body).toContain(`concurrency key <code>***</code>: its limit of 1 is taken by <a href="/tasks/${holder.id}"`);
    const list = await b.get('/tasks?state=queued');
    expect(list.body).toContain(`concurrency key <code>***</code>: its limit of 1 is taken by <a href="/tasks/${holder.id}"`);
    expect(page.body + list.body).not.toContain(ACCOUNT);
  });

});

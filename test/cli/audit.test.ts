/**
 * `runwarden audit sample|record` and `--packet-helpful` as a user runs them (embedded database
 * and PostgreSQL): the sample lists finished tasks, a review lands in the task's ledger, and bad
 * input is a usage error; then what was sampled and recorded appears in `runwarden report` (text
 * and `--json`, narrowed by --since and --runbook) and on the console's report page.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createMasker } from '../../src/secrets/mask.js';
import type { Report } from '../../src/store/report.js';
import { listEvents } from '../../src/store/tasks.js';
import { Browser, consoleApp, TOKENS } from '../console/client.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, fixtureRunbooks } from '../helpers/harness.js';
import { seedTask } from '../helpers/seed.js';

vi.setConfig({ testTimeout: 90_000 });

let cwd: string;
beforeAll(async () => {
  ensureBuilt();
  cwd = await mkdtemp(join(tmpdir(), 'rw-cli-audit-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describeBackends('runwarden audit', ({ db, url, handOff }) => {
  const cli = (args: string[]) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd });

  it('samples finished tasks, records a review, and refuses a review without its verdict', async () => {
    const done = await seedTask(db(), { state: 'completed', runbookId: 't-restart' });
    const queued = await seedTask(db(), { state: 'queued', runbookId: 't-restart' });
    const escalated = await seedTask(db(), { state: 'escalated', runbookId: 't-restart' });
    const [sample, record, bad, fail] = await handOff(async () => [
      await cli(['audit', 'sample', '--since', '3650d', '--size', '5', '--json']),
      await cli(['audit', 'record', done.id, '--verdict', 'issue', '--note', 'restarted a healthy service', '--auditor', 'cy']),
      await cli(['audit', 'record', done.id, '--verdict', 'fine', '--auditor', 'cy']),
      await cli(['fail', escalated.id, '--operator', 'ana', '--reason', 'cannot be done', '--packet-helpful', 'yes']),
    ]);
    expect(sample.code, sample.stderr).toBe(0);
    const ids = (JSON.parse(sample.stdout) as { id: string }[]).map((t) => t.id);
    expect(ids).toContain(done.id);
    expect(ids).not.toContain(queued.id);
    expect(record.code, record.stderr).toBe(0);
    expect(record.stdout).toBe(`${done.id} completed: review recorded (issue)\n`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--verdict ok or issue; got fine/);
    expect((await listEvents(db(), done.id)).at(-1)).toMatchObject({ type: 'audit.recorded', actor: 'auditor:cy', data: { verdict: 'issue', note: 'restarted a healthy service' } });
    expect(fail.code, fail.stderr).toBe(0);
    expect((await listEvents(db(), escalated.id)).find((e) => e.type === 'operator.action')?.data).toMatchObject({ action: 'fail', packetHelpful: true });
  });
});

describeBackends('report with audits', ({ db, url, handOff }) => {
  const cli = (args: string[]) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd });
  const ok = async (args: string[]) => {
    const r = await handOff(() => cli(args));
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const reportJson = async (...args: string[]) => (JSON.parse(await ok(['report', '--json', ...args])) as Report).audit;

  it('shows the coverage, findings and helpful packets of what was sampled and recorded, on the command line and the console', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const seed = (state: 'completed' | 'escalated', runbookId: string, now = hourAgo) => seedTask(db(), { state, runbookId, now });
    const done = [await seed('completed', 't-restart'), await seed('completed', 't-restart'), await seed('completed', 't-restart')];
    const [esc1, esc2] = [await seed('escalated', 't-restart'), await seed('escalated', 't-restart')];
    const approval = await seed('completed', 't-approval');
    // Finished a month ago and reviewed today: not work that finished this week.
    const old = await seed('completed', 't-restart', new Date(Date.now() - 30 * 86_400_000));

    await ok(['complete', esc1!.id, '--operator', 'ana', '--reason', 'restarted by hand', '--packet-helpful', 'yes']);
    await ok(['resume', esc2!.id, '--operator', 'bo', '--reason', 'dependency back', '--packet-helpful', 'no']);
    await ok(['audit', 'record', old.id, '--verdict', 'issue', '--note', 'restarted during a change freeze', '--auditor', 'cy']);
    await ok(['audit', 'record', approval.id, '--verdict', 'issue', '--note', 'approved without a ticket', '--auditor', 'cy']);

    // The week's finished restarts: the three done, and the escalation closed by hand; not the
    // one resumed (queued again), nor the one finished a month ago.
    const sample = (JSON.parse(await ok(['audit', 'sample', '--since', '7d', '--runbook', 't-restart', '--size', '10', '--json'])) as { id: string }[]).map((t) => t.id);
    expect([...sample].sort()).toEqual([...done.map((t) => t.id), esc1!.id].sort());
    const [fine, wrong] = sample as [string, string];
    await ok(['audit', 'record', fine, '--verdict', 'ok', '--auditor', 'cy']);
    await ok(['audit', 'record', wrong, '--verdict', 'issue', '--note', 'restarted a healthy service', '--auditor', 'dee']);
    // Reviewed tasks come last: the next two picked are the two not reviewed.
    const next = (JSON.parse(await ok(['audit', 'sample', '--since', '7d', '--runbook', 't-restart', '--size', '2', '--json'])) as { id: string }[]).map((t) => t.id);
    expect(next.sort()).toEqual(sample.filter((id) => id !== fine && id !== wrong).sort());

    const finding = (taskId: string, runbook: string, note: string, auditor: string) => ({ taskId, runbook, note, auditor, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(await reportJson('--since', '7d', '--runbook', 't-restart')).toEqual({
      finished: 4,
      audited: 2,
      coverage: 0.5,
      findingCount: 1,
      findings: [finding(wrong, 't-restart', 'restarted a healthy service', 'dee')],
      verdicts: { ok: 1, issue: 1 },
      packets: { answered: 2, helpful: 1, share: 0.5 },
    });
    // All time, the month-old restart and its finding count; newest finding first.
    expect(await reportJson('--runbook', 't-restart')).toEqual({
      finished: 5,
      audited: 3,
      coverage: 0.6,
      findingCount: 2,
      findings: [finding(wrong, 't-restart', 'restarted a healthy service', 'dee'), finding(old.id, 't-restart', 'restarted during a change freeze', 'cy')],
      verdicts: { ok: 1, issue: 2 },
      packets: { answered: 2, helpful: 1, share: 0.5 },
    });
    expect(await reportJson('--since', '7d')).toMatchObject({ finished: 5, audited: 3, coverage: 0.6, findingCount: 2, verdicts: { ok: 1, issue: 2 }, packets: { answered: 2, helpful: 1, share: 0.5 } });
    expect((await reportJson('--since', '7d')).findings.map((f) => f.taskId)).toEqual([wrong, approval.id]);

    const text = await ok(['report', '--since', '7d', '--runbook', 't-restart']);
    expect(text).toContain('audits: 2 of 4 task(s) finished in the window reviewed (50.0%); 1 ok, 1 issue; 1 finding(s)\n');
    expect(text).toContain(`  ${wrong} (t-restart), dee: restarted a healthy service\n`);
    expect(text).toContain('packets: 1 of 2 escalation(s) handled with an answer said the packet was enough (50.0%)\n');

    // The console's report page draws the same figures for the same window.
    const app = consoleApp({ db: db(), runbooks: await fixtureRunbooks(), masker: createMasker([]) });
    try {
      const browser = new Browser(app);
      await browser.signIn(TOKENS.vic.token);
      const page = await browser.get('/report?since=7d&runbook=t-restart');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<td data-testid="audit-coverage">50% (2 of 4 finished tasks reviewed)</td>');
      expect(page.body).toContain('<td data-testid="audit-verdicts">1 ok, 1 issue</td>');
      expect(page.body).toContain('<td data-testid="audit-findings">1</td>');
      expect(page.body).toContain('<td data-testid="audit-packets">50% (1 of 2 escalations handled with an answer)</td>');
      expect([...page.body.matchAll(/data-testid="audit-finding" data-task="([^"]+)"/g)].map((m) => m[1])).toEqual([wrong]);
      expect(page.body).toContain(`<a href="/tasks/${wrong}"><code>${wrong}</code></a></td><td>t-restart</td><td>restarted a healthy service</td><td>dee</td>`);
      const all = await browser.get('/report?since=');
      expect(all.body).toContain('<td data-testid="audit-coverage">67% (4 of 6 finished tasks reviewed)</td>');
      expect([...all.body.matchAll(/data-testid="audit-finding" data-task="([^"]+)"/g)].map((m) => m[1])).toEqual([wrong, approval.id, old.id]);
    } finally {
      await app.close();
    }
  });
});

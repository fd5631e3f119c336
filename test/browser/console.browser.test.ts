/**
 * The console in a real headless Chromium (Debian's `chromium`, driven by playwright-core): an
 * operator signs in, finds the escalated task in the inbox, reads its packet, takes it over and
 * resumes it through the forms, and sees it complete; the intake page links the request that made
 * it. Screenshots of the inbox, the task page (escalated and completed), the intake page and the
 * report are saved under test-artifacts/console/.
 *
 * Without /usr/bin/chromium the test is skipped with a message, except in CI
 * (RUNWARDEN_TEST_REQUIRE_PG=1 or CI set), where a missing browser is a failure: .ci/run installs it.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clonePglite } from '../helpers/backends.js';
import { harness, OPS_TOKEN, testWorker, type Harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { deploymentConfig } from '../../src/config/deployment-config.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import type { Worker } from '../../src/orchestrator/worker.js';
import { createMasker } from '../../src/secrets/mask.js';
import { openDb, type Db } from '../../src/store/db.js';
import { insertIntakeEvent } from '../../src/store/intake-log.js';
import { consoleApp, TOKENS } from '../console/client.js';

const CHROMIUM = process.env.RUNWARDEN_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.RUNWARDEN_TEST_REQUIRE_PG === '1' || Boolean(process.env.CI);
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const present = existsSync(CHROMIUM);

if (!present && !REQUIRED) {
  describe.skip(`console in Chromium (skipped: no browser at ${CHROMIUM}; install it with apt-get install -y chromium)`, () => undefined);
} else {
  describe('console in Chromium', () => {
    const sim = useSim();
    let db: Db;
    let dir = '';
    let h: Harness;
    let app: FastifyInstance;
    let base = '';
    let browser: Browser | undefined;
    let worker: Worker;
    let working: Promise<unknown>;

    beforeAll(async () => {
      if (!present) throw new Error(`the browser test needs Chromium at ${CHROMIUM} (in CI, .ci/run installs the Debian package chromium)`);
      dir = await clonePglite();
      db = await openDb(dir);
      h = await harness(db, sim());
      const masker = createMasker([OPS_TOKEN]);
      const config = deploymentConfig();
      app = consoleApp({ db, runbooks: h.runbooks, masker });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      // A worker runs beside the console as in `serve`: it writes the packet and, after the
      // resume, carries the task to its end.
      worker = testWorker({ db, runbooks: h.runbooks, env: h.env, secrets: h.secrets, masker }, { hooks: escalationHooks({ config, runbooks: h.runbooks, masker }).hooks });
      working = worker.run();
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      await mkdir(ARTIFACTS, { recursive: true });
    });

    afterAll(async () => {
      await browser?.close();
      await worker?.stop();
      await working;
      await app?.close();
      await db?.close();
      if (dir) await rm(join(dir, '..'), { recursive: true, force: true });
    });

    /** Reloads until the task page shows `state`, or fails after `ms`. */
    async function untilState(page: Page, state: string, ms = 20_000): Promise<void> {
      const deadline = Date.now() + ms;
      for (;;) {
        const shown = await page.locator('.task-head h1 .badge').textContent();
        if (shown?.trim() === state) return;
        if (Date.now() > deadline) throw new Error(`the task page still shows ${shown} after ${ms} ms; expected ${state}`);
        await page.waitForTimeout(200);
        await page.reload();
      }
    }

    it('signs in, finds the escalated task, reads its packet, takes it over, resumes it and sees it complete', async () => {
      sim().setService('billing-api', { status: 'degraded' });
      sim().fault({ method: 'POST', path: '/services/billing-api/restart', status: 403, times: 1 });
      const t = await h.submit('t.restart', { service: 'billing-api' }, { externalRef: 'INC-4211', requestedBy: 'queue:ops' });
      await expect.poll(async () => (await h.task(t.id)).state, { timeout: 20_000 }).toBe('escalated');
      // An approval waiting too, so the inbox shows its second list.
      const gate = await h.submit('t.approval', { order: 'ord-77', amount: 5000 }, { externalRef: 'CHG-77' });
      await expect.poll(async () => (await h.task(gate.id)).state, { timeout: 20_000 }).toBe('awaiting_approval');
      // The packet is written with the stop, in the same transaction.
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      // The Content-Security-Policy allows the console's own stylesheet and script: nothing it
      // loads may be refused, and its script must not fail.
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (err) => problems.push(err.message));

      await page.goto(`${base}/`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.getByTestId('token').fill(TOKENS.ana.token);
      await page.getByTestId('sign-in').click();
      await page.waitForURL(`${base}/`);

      const item = page.locator(`[data-testid=inbox-item][data-task="${t.id}"]`);
      await expect.poll(() => item.count()).toBe(1);
      expect(await item.textContent()).toContain('Failed, not retryable: INC-4211');
      expect(await item.textContent()).toContain('Recommended:');
      expect(await page.getByTestId('approval-item').textContent()).toContain('CHG-77');
      await page.screenshot({ path: join(ARTIFACTS, 'inbox.png'), fullPage: true });

      await item.getByRole('link', { name: 'Open INC-4211' }).click();
      await page.waitForURL(`${base}/tasks/${t.id}`);
      const packet = page.getByTestId('packet');
      expect(await packet.textContent()).toContain('What changed');
      expect(await page.getByTestId('why').textContent()).toContain('permission');
      await page.screenshot({ path: join(ARTIFACTS, 'task-escalated.png'), fullPage: true });

      await page.getByTestId('reason-takeover').fill('checking the API token scope by hand');
      await page.getByTestId('do-takeover').click();
      await untilState(page, 'in handover');
      expect(await page.locator('.flash.ok').textContent()).toContain('Done: takeover, recorded in the ledger under your name');

      await page.getByTestId('reason-resume').fill('token scope fixed; restart again');
      await page.getByTestId('do-resume').click();
      await untilState(page, 'completed');
      await page.screenshot({ path: join(ARTIFACTS, 'task-completed.png'), fullPage: true });

      const done = await h.task(t.id);
      expect(done.state).toBe('completed');
      const ops = (await h.events(t.id)).filter((e) => e.type === 'operator.action').map((e) => [e.data.action, e.data.operator]);
      expect(ops).toEqual([
        ['takeover', 'ana'],
        ['resume', 'ana'],
      ]);
      expect(sim().count('service.restart')).toBe(1);

      // The intake page, from the navigation: a request that made the task and excluded another unit.
      await insertIntakeEvent(db, {
        id: 'iev_browser0000000000001',
        source: 'alerts',
        sourceType: 'alertmanager',
        receivedAt: new Date(),
        deliveryId: null,
        outcome: 'processed',
        summary: { created: 1, excluded: 1 },
        results: [
          { unit: 'alerts[0]', result: 'created', taskId: t.id, externalRef: 'INC-4211' },
          { unit: 'alerts[1]', result: 'excluded', reason: "the mapping's when is false" },
        ],
        error: null,
      });
      await page.getByRole('link', { name: 'Intake', exact: true }).click();
      await page.waitForURL(`${base}/intake`);
      const event = page.locator('[data-testid=intake-event][data-event="iev_browser0000000000001"]');
      expect(await event.textContent()).toContain("the mapping's when is false");
      await page.screenshot({ path: join(ARTIFACTS, 'intake.png'), fullPage: true });
      await event.getByRole('link', { name: 'INC-4211' }).click();
      await page.waitForURL(`${base}/tasks/${t.id}`);

      // The report draws the scenario: a pause at restart, and a recovery after the first failure.
      await page.goto(`${base}/report`);
      expect(await page.getByTestId('charts').textContent()).toContain('t-restart · restart');
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      // A string: it runs in the page, and this project's TypeScript has no DOM library.
      expect(await page.evaluate("getComputedStyle(document.querySelector('nav.top')).backgroundColor")).toBe('rgb(27, 31, 36)');
      expect(problems).toEqual([]);
      await page.close();
    });
  });
}

/**
 * `runwarden audit sample|record` and `--packet-helpful` as a user runs them (embedded database
 * and PostgreSQL): the sample lists finished tasks, a review lands in the task's ledger, and bad
 * input is a usage error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS } from '../helpers/harness.js';
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

/**
 * Operator actions and `callback` as a user runs them: the required --operator and --reason, the
 * refusal of an action the state does not allow (exit 1, what is allowed), the confirmation of
 * `resume --from`, and the JSON output. The library behind them is tested in test/orchestrator.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, harness } from '../helpers/harness.js';
import type { Cursor } from '../../src/orchestrator/types.js';

// Each CLI call is a process that opens the database (about a second on PGlite).
vi.setConfig({ testTimeout: 90_000 });

let cwd: string;
let sim: Sim;
beforeAll(async () => {
  ensureBuilt();
  sim = await startSim();
  cwd = await mkdtemp(join(tmpdir(), 'rw-actions-'));
  await writeFile(join(cwd, 'runwarden.yaml'), 'env: [OPS_API_URL]\n');
});
afterAll(async () => {
  await sim.close();
  await rm(cwd, { recursive: true, force: true });
});

describeBackends('runwarden operator actions and callback', ({ db, url, handOff }) => {
  const cli = (args: string[]) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd, env: { OPS_API_URL: sim.url } });

  it('takeover and resume, refusals with what is allowed, and usage errors', async () => {
    const h = await harness(db(), sim);
    sim.setService('cli-svc', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/cli-svc/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'cli-svc' }, { externalRef: 'INC-CLI-1' });
    await h.work();
    expect((await h.task(t.id)).state).toBe('escalated');

    const [noReason, approve, takeover, json] = await handOff(async () => [
      await cli(['takeover', 'INC-CLI-1', '--operator', 'ana']),
      await cli(['approve', 'INC-CLI-1', '--operator', 'ana', '--reason', 'looks fine']),
      await cli(['takeover', 'INC-CLI-1', '--operator', 'ana', '--reason', 'checking the token scope']),
      await cli(['resume', t.id, '--operator', 'ana', '--reason', 'token fixed', '--json']),
    ]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
    expect(approve.code).toBe(1);
    expect(approve.stderr).toMatch(/approve is not allowed: task tsk_\w+ is escalated/);
    expect(approve.stderr).toMatch(/From escalated: takeover, resume, retry, skip, rollback, complete, fail, cancel/);
    expect(takeover.code, takeover.stderr).toBe(0);
    expect(takeover.stdout).toBe(`${t.id} in_handover\n`);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ id: t.id, state: 'queued' });

    const events = (await listEvents(db(), t.id)).filter((e) => e.type === 'operator.action');
    expect(events.map((e) => [e.actor, e.data.action, e.data.reason])).toEqual([
      ['operator:ana', 'takeover', 'checking the token scope'],
      ['operator:ana', 'resume', 'token fixed'],
    ]);
  });

  it('resume --from asks for --yes, shows the plan with --dry-run', async () => {
    const h = await harness(db(), sim);
    sim.fault({ method: 'POST', path: '/billing/invoices', status: 403 });
    const t = await h.submit('t.onboard', { customer: 'cli-co', plan: 'pro' });
    await h.work();
    const [dry, refused] = await handOff(async () => [
      await cli(['resume', t.id, '--operator', 'ana', '--reason', 'redo', '--from', 'create-account', '--dry-run']),
      await cli(['resume', t.id, '--operator', 'ana', '--reason', 'redo', '--from', 'create-account']),
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('steps that changed something and would run again: create-account, invoice');
    expect(dry.stdout).toContain('dry run: nothing changed');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/confirm with --yes/);
    expect((await getTask(db(), t.id))?.state).toBe('escalated');
  });

  it('callback delivers data to a waiting task; a wrong token or bad JSON is refused', async () => {
    const h = await harness(db(), sim);
    const t = await h.submit('t.wait', {});
    await h.work();
    const token = ((await h.task(t.id)).cursor as Cursor).callbackToken!;
    const [bad, wrong, ok] = await handOff(async () => [
      await cli(['callback', token, '--data', '{not json']),
      await cli(['callback', 'cb_nope', '--data', '{}']),
      await cli(['callback', token, '--data', '{"tenant":"ten_cli"}']),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--data is not valid JSON/);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/no task is waiting on that callback token/);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${t.id} queued\n`);
    // handOff reopened the database: a harness over the new handle.
    const after = await harness(db(), sim);
    await after.work();
    expect((await after.task(t.id)).steps['wait-ready']?.captures).toEqual({ tenant: 'ten_cli' });
  });
});

/**
 * `runwarden schedules` and `runwarden schedule pause|resume|run-now|show` as a user runs them:
 * the health table and its JSON, the operator and reason the actions require (exit 2 without),
 * refusals (exit 1), a run-now refused at intake (exit 1, with why), and the schedule's page with
 * its fires and ledger. The library behind them is tested in test/scheduler.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/orchestrator/clock.js';
import { listScheduleEvents } from '../../src/store/schedules.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { SCHEDULE_FIXTURES, scheduleRunbooks, scheduleWorld } from '../helpers/schedules.js';

// Each CLI call is a process that opens the database (about a second on PGlite).
vi.setConfig({ testTimeout: 120_000 });

let cwd: string;
beforeAll(async () => {
  ensureBuilt();
  cwd = await mkdtemp(join(tmpdir(), 'rw-schedules-'));
  await writeFile(join(cwd, 'runwarden.yaml'), 'env: [OPS_API_URL, CHANGE_FREEZE]\n');
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describeBackends('runwarden schedules and schedule', ({ db, url, handOff }) => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '--db', url(), '--runbooks', SCHEDULE_FIXTURES], { cwd, env: { OPS_API_URL: 'http://127.0.0.1:9', CHANGE_FREEZE: 'false', ...env } });

  it('lists the schedules with their health, and pauses, resumes, runs and shows one', async () => {
    // A scheduler has seen s-ops; the others no scheduler has run yet.
    await scheduleWorld(db(), await scheduleRunbooks('s-ops'), systemClock).scheduler({ watchdog: false }).tick();
    const [list, table, noReason, pause, show, resume, runNow, unknown, badAction] = await handOff(async () => [
      await cli(['schedules', '--json']),
      await cli(['schedules']),
      await cli(['schedule', 'pause', 's-ops', '--operator', 'ana']),
      await cli(['schedule', 'pause', 's-ops', '--operator', 'ana', '--reason', 'maintenance window']),
      await cli(['schedule', 'show', 's-ops']),
      await cli(['schedule', 'resume', 's-ops', '--operator', 'ana', '--reason', 'window over', '--json']),
      await cli(['schedule', 'run-now', 's-ops', '--operator', 'ana', '--reason', 'check the fix', '--json']),
      await cli(['schedule', 'pause', 'nope', '--operator', 'ana', '--reason', 'x']),
      await cli(['schedule', 'frobnicate', 's-ops']),
    ]);
    expect(list.code, list.stderr).toBe(0);
    const statuses = JSON.parse(list.stdout) as Array<{ runbook: string; health: string; why: string; cron: string; timezone: string; nextFire: string }>;
    expect(statuses.map((s) => s.runbook)).toContain('s-berlin');
    expect(statuses.find((s) => s.runbook === 's-ops')).toMatchObject({ cron: '*/10 * * * *', timezone: 'UTC', health: 'ok', why: expect.stringMatching(/^no run yet; the first fire is at /) });
    expect(statuses.find((s) => s.runbook === 's-berlin')).toMatchObject({ health: 'late', why: 'no scheduler has run this schedule yet: runwarden work (or serve) runs it', timezone: 'Europe/Berlin' });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^RUNBOOK\s+CRON\s+TIMEZONE\s+HEALTH\s+LAST FIRE\s+NEXT FIRE\s+LAST SUCCESS\s+WHY$/);
    expect(table.stdout).toMatch(/\ns-ops\s+\*\/10 \* \* \* \*\s+UTC\s+ok\s/);

    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/schedule pause needs --operator <name> and --reason <text>/);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout).toBe('s-ops paused\n');
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^s-ops {2}paused\n/);
    expect(show.stdout).toContain('paused by ana at');
    expect(show.stdout).toMatch(/\n {2}2 +\S+ \S+ +schedule\.paused +operator:ana +\{.*"reason":"maintenance window".*\}\n/);
    expect(resume.code, resume.stderr).toBe(0);
    expect(JSON.parse(resume.stdout)).toEqual({ runbook: 's-ops', paused: false });
    expect(runNow.code, runNow.stderr).toBe(0);
    expect(JSON.parse(runNow.stdout)).toMatchObject({ runbook: 's-ops', state: 'queued', externalRef: expect.stringMatching(/^schedule:s-ops:run-now:/) });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no runbook nope; scheduled runbooks: s-allow, s-berlin/);
    expect(badAction.code).toBe(2);

    expect((await listScheduleEvents(db(), 's-ops')).map((e) => [e.type, e.actor])).toEqual([
      ['schedule.registered', 'scheduler'],
      ['schedule.paused', 'operator:ana'],
      ['schedule.resumed', 'operator:ana'],
      ['schedule.run_now', 'operator:ana'],
    ]);
  });

  it('a run-now refused at intake exits 1 and says why', async () => {
    const refused = await handOff(() => cli(['schedule', 'run-now', 's-guarded', '--operator', 'ana', '--reason', 'try it'], { CHANGE_FREEZE: 'true' }));
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^tsk_\w+ schedule:s-guarded:run-now:\S+\nstate: rejected \(off policy\)\n {2}policy\.guards\.change-freeze: changes are frozen\n$/);
    expect((await listScheduleEvents(db(), 's-guarded')).at(-1)).toMatchObject({ type: 'schedule.run_now', data: { refused: { kind: 'off_policy' } } });
  });
});

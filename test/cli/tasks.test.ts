/**
 * `runwarden submit`, `tasks` and `show` as a user runs them, on both backends: output, the
 * `--json` shapes interfaces.md fixes, and exit codes (0 ok, 1 refused or rejected, 2 usage).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS } from '../helpers/harness.js';

// Each CLI call is a process that opens the database (about a second on PGlite); a test runs several.
vi.setConfig({ testTimeout: 90_000 });

let cwd: string;
beforeAll(async () => {
  ensureBuilt();
  // An empty working directory: no runwarden.yaml or ./runbooks of the checkout leaks in.
  cwd = await mkdtemp(join(tmpdir(), 'rw-cli-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const REQUEST = { taskClass: 't.restart', externalRef: 'INC-4211', requestedBy: 'queue:ops', input: { service: 'billing-api' }, priority: 2 };

describeBackends('runwarden submit, tasks and show', ({ db, url, handOff }) => {
  const cli = (args: string[], input?: string) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd, ...(input === undefined ? {} : { input }) });

  it('submits a request file, prints `id state`, and deduplicates by externalRef', async () => {
    const file = join(cwd, 'request.json');
    await writeFile(file, JSON.stringify(REQUEST));
    const [first, again] = await handOff(async () => [await cli(['submit', file]), await cli(['submit', file])]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^tsk_[a-z2-7]{20} queued\n$/);
    const id = first.stdout.split(' ')[0]!;
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${id} queued (existing task for externalRef INC-4211: the same request again; nothing created)\n`);
    expect(await getTask(db(), 'INC-4211')).toMatchObject({ id, state: 'queued', priority: 2, requestedBy: 'queue:ops' });
    expect(await listEvents(db(), id)).toHaveLength(1);
  });

  it('reads stdin with `-` and prints the task as JSON with --json', async () => {
    const r = await handOff(() => cli(['submit', '-', '--json'], JSON.stringify({ taskClass: 't.restart', input: { service: 'search' } })));
    expect(r.code, r.stderr).toBe(0);
    const task = JSON.parse(r.stdout);
    expect(task).toMatchObject({ state: 'queued', created: true, taskClass: 't.restart', runbook: { id: 't-restart', version: 1 }, retryBudget: { used: 0, limit: 6 } });
    expect(task.steps.map((s: { id: string }) => s.id)).toEqual(['check-health', 'restart']);
  });

  it('stores a rejection, prints `state: rejected` with each reason, and exits 1', async () => {
    const r = await handOff(() => cli(['submit', '-'], JSON.stringify({ taskClass: 't.restart', input: { service: 'Billing API' } })));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^tsk_\S+ rejected\nstate: rejected \(invalid input\)\n {2}input\.service: .*pattern/);
    const id = r.stdout.split(' ')[0]!;
    expect(await getTask(db(), id)).toMatchObject({ state: 'rejected', rejection: { kind: 'invalid_input' } });

    const unknown = await handOff(() => cli(['submit', '-', '--json'], JSON.stringify({ taskClass: 'no.such.class' })));
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ state: 'rejected', rejection: { kind: 'unknown_class', problems: [{ path: 'taskClass' }] } });
  });

  it('refuses malformed JSON with exit 1 and stores nothing', async () => {
    const [r, rj, missing, list] = await handOff(async () => [
      await cli(['submit', '-'], '{"taskClass": "t.restart", '),
      await cli(['submit', '-', '--json'], 'not json'),
      await cli(['submit', join(cwd, 'no-such-file.json')]),
      await cli(['tasks', '--json', '--limit', '1000']),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^runwarden: the request on stdin is not valid JSON/);
    expect(r.stdout).toBe('');
    expect(rj.code).toBe(1);
    expect(JSON.parse(rj.stdout)).toMatchObject({ error: { code: 'REQUEST_INVALID', retryable: false } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read the task request');
    const tasks = JSON.parse(list.stdout) as { taskClass: string }[];
    expect(tasks.length).toBeGreaterThan(0);
    expect((await db().query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE task_class = '(none)'"))[0]!.n).toBe(0);
  });

  it('lists tasks as a table and as JSON, filtered by state and runbook, newest first', async () => {
    const [table, json, rejected, byRunbook, limited, badState, badLimit] = await handOff(async () => [
      await cli(['tasks']),
      await cli(['tasks', '--json']),
      await cli(['tasks', '--json', '--state', 'rejected']),
      await cli(['tasks', '--json', '--runbook', 't-restart']),
      await cli(['tasks', '--json', '--limit', '1']),
      await cli(['tasks', '--state', 'sleeping']),
      await cli(['tasks', '--limit', '0']),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+CLASS\s+REF\s+STEP\s+RETRIES\s+UPDATED$/);
    expect(table.stdout).toMatch(/tsk_\S+\s+queued\s+t\.restart\s+INC-4211\s+-\s+0\/6/);
    const all = JSON.parse(json.stdout) as { id: string; state: string; createdAt: string; runbook: unknown }[];
    expect(Array.isArray(all)).toBe(true);
    expect(all[0]).toEqual({
      id: expect.stringMatching(/^tsk_/),
      externalRef: expect.toBeOneOf([null, expect.any(String)]),
      taskClass: expect.any(String),
      runbook: expect.toBeOneOf([null, { id: 't-restart', version: 1 }]),
      state: expect.any(String),
      currentStep: null,
      priority: expect.any(Number),
      retryBudget: { used: 0, limit: expect.any(Number) },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect([...all].sort((a, b) => b.createdAt.localeCompare(a.createdAt))).toEqual(all);
    expect((JSON.parse(rejected.stdout) as { state: string }[]).every((t) => t.state === 'rejected')).toBe(true);
    expect((JSON.parse(rejected.stdout) as unknown[]).length).toBeGreaterThanOrEqual(2);
    expect((JSON.parse(byRunbook.stdout) as { runbook: { id: string } }[]).every((t) => t.runbook.id === 't-restart')).toBe(true);
    expect(JSON.parse(limited.stdout)).toHaveLength(1);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain('--state must be one of queued, running');
    expect(badLimit.code).toBe(2);
  });

  it('shows a task by externalRef in the fixed --json shape, steps in runbook order, ledger in order', async () => {
    const task = (await getTask(db(), 'INC-4211'))!;
    const [json, byId, human, missing, missingJson] = await handOff(async () => [
      await cli(['show', 'INC-4211', '--json']),
      await cli(['show', task.id, '--json']),
      await cli(['show', 'INC-4211']),
      await cli(['show', 'INC-0000']),
      await cli(['show', 'INC-0000', '--json']),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const v = JSON.parse(json.stdout);
    // The fields interfaces.md fixes, exactly as it names them.
    expect(v).toMatchObject({
      id: task.id,
      externalRef: 'INC-4211',
      taskClass: 't.restart',
      runbook: { id: 't-restart', version: 1 },
      state: 'queued',
      currentStep: null,
      retryBudget: { used: 0, limit: 6 },
      steps: [
        { id: 'check-health', status: 'pending', attempts: 0, captures: {} },
        { id: 'restart', status: 'pending', attempts: 0, captures: {} },
      ],
      events: [{ seq: 1, at: task.createdAt.toISOString(), type: 'intake.accepted', step: null, actor: 'intake', data: { runbook: 't-restart' } }],
    });
    for (const e of v.events) expect(Object.keys(e).sort()).toEqual(['actor', 'at', 'data', 'seq', 'step', 'type']);
    expect(JSON.parse(byId.stdout)).toEqual(v);

    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${task.id}  queued\\n`));
    expect(human.stdout).toMatch(/runbook\s+t-restart v1/);
    expect(human.stdout).toMatch(/retries\s+0 of 6 used/);
    expect(human.stdout.indexOf('check-health')).toBeLessThan(human.stdout.indexOf('restart  '));
    expect(human.stdout).toMatch(/ledger\n\s+SEQ\s+AT\s+EVENT.*\n\s+1\s+\S+ \S+Z\s+intake\.accepted\s+-\s+intake/);

    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('runwarden: no task with id or externalRef INC-0000\n');
    expect(missingJson.code).toBe(1);
    expect(JSON.parse(missingJson.stdout)).toMatchObject({ error: { code: 'TASK_NOT_FOUND' } });
  });
});

/**
 * The rough edges a new user meets in the first hour, each as a user meets it (the built CLI in
 * a child process): usage errors that are short and exit 2, a pipe closed early, reading commands
 * without the worker's secrets, a packet as each sink receives it, a broken runbook beside good
 * ones, an env.NAME the config does not list, shell completion, and intake limits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, cp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { createMasker } from '../../src/secrets/mask.js';
import { getTask, listTasks } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { BIN, ensureBuilt, runCli } from '../helpers/cli.js';
import { FIXTURE_RUNBOOKS, harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

vi.setConfig({ testTimeout: 120_000 });

let cwd: string;
beforeAll(async () => {
  ensureBuilt();
  cwd = await mkdtemp(join(tmpdir(), 'rw-first-hour-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const sim = useSim();

describe('usage errors', () => {
  it('an unknown command says so in two lines and exits 2, not with the whole help', async () => {
    const r = await runCli(['restrat'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command 'restrat'/);
    expect(r.stderr).toContain('runwarden --help');
    expect(r.stderr).not.toContain('Commands:');
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
  });

  it('--lease without a unit, and --db naming a file, are usage errors (exit 2) that say what is expected', async () => {
    await writeFile(join(cwd, 'a-file'), 'not a database');
    const [lease, file] = await Promise.all([runCli(['work', '--lease', '5', '--db', 'memory://'], { cwd }), runCli(['tasks', '--db', 'a-file'], { cwd })]);
    expect(lease.code).toBe(2);
    expect(lease.stderr).toBe('runwarden: --lease takes a duration, a whole number and a unit: 500ms, 10s, 2m, 1h or 1d; got 5\n');
    expect(file.code).toBe(2);
    expect(file.stderr).toBe('runwarden: --db a-file is a file; the embedded database is a directory (default ./.runwarden/db), or give a postgres:// URL\n');
  });

  it('a --config that names no file fails every command that takes it', async () => {
    const results = await Promise.all(
      [['tasks'], ['show', 'x'], ['packet', 'x'], ['validate', FIXTURE_RUNBOOKS]].map((args) => runCli([...args, '--config', '/nope.yaml', '--db', 'memory://'], { cwd })),
    );
    for (const r of results) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('config file /nope.yaml does not exist');
    }
  });

  it('a reader that closes the pipe early ends the command quietly, exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'schema', 'runbook'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('submit --help shows an example request and every field of one', async () => {
    const r = await runCli(['submit', '--help'], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`echo '{ "taskClass": "service.restart", "externalRef": "INC-4211"`);
    for (const field of ['taskClass', 'externalRef', 'requestedBy', 'input', 'priority']) expect(r.stdout).toMatch(new RegExp(`^  ${field} +(required|optional)  `, 'm'));
  });
});

describe('shell completion', () => {
  it('bash: a script bash accepts, completing every command, its options and closed value sets', async () => {
    const r = await runCli(['completion', 'bash'], { cwd });
    expect(r.code).toBe(0);
    expect(spawnSync('bash', ['-n'], { input: r.stdout }).status).toBe(0);
    for (const c of ['validate', 'submit', 'show', 'takeover', 'sim', 'init', 'completion']) expect(r.stdout).toContain(`    ${c})`);
    expect(r.stdout).toMatch(/--state\) COMPREPLY=\(\$\(compgen -W 'queued running /);
    // Run it: completing `runwarden packet x --format s` offers slack.
    const words = ['runwarden', 'packet', 'x', '--format', 's'];
    const script = `${r.stdout}\nCOMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _runwarden; echo "\${COMPREPLY[@]}"`;
    expect(spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout.trim()).toBe('slack');
  });

  it('zsh: a #compdef function for every command; anything else is a usage error', async () => {
    const [zsh, fish] = await Promise.all([runCli(['completion', 'zsh'], { cwd }), runCli(['completion', 'fish'], { cwd })]);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef runwarden');
    expect(zsh.stdout).toContain("'--format[");
    expect(zsh.stdout).toContain(':value:(json md slack pagerduty webhook)');
    for (const c of ['validate', 'submit', 'show', 'takeover']) expect(zsh.stdout).toContain(`_runwarden_${c}() {`);
    if (spawnSync('zsh', ['--version']).status === 0) expect(spawnSync('zsh', ['-n'], { input: zsh.stdout }).status).toBe(0);
    expect(fish.code).toBe(2);
  });
});

describe('a broken runbook beside good ones', () => {
  it('the good ones keep working; the broken one is reported by validate and at work start, and its classes refused with its problems', async () => {
    const dir = join(cwd, 'mixed');
    await mkdir(dir, { recursive: true });
    await cp(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), join(dir, 't-restart.yaml'));
    await writeFile(join(dir, 'broken.yaml'), 'runbook: broken\nversion: 1\ntitle: b\nowner: o\ntaskClasses: [t.broken]\nsteps:\n  - id: a\n    action: htp\n');
    await writeFile(join(dir, 'runwarden.yaml'), 'env: [OPS_API_URL]\n');
    const db = join(cwd, 'mixed-db');
    const common = ['--runbooks', dir, '--db', db, '--config', join(dir, 'runwarden.yaml')];
    const validate = await runCli(['validate', dir], { cwd });
    expect(validate.code).toBe(1);
    expect(validate.stderr).toMatch(/broken\.yaml:7:5: steps\[0\]\.repeat: .*did you mean `http`/);
    expect(validate.stderr).not.toContain('runwarden.yaml:');
    const good = await runCli(['submit', '-', ...common], { cwd, input: JSON.stringify({ taskClass: 't.restart', input: { service: 'mixed-a' } }) });
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/ queued\n$/);
    const bad = await runCli(['submit', '-', ...common], { cwd, input: JSON.stringify({ taskClass: 't.broken', externalRef: 'INC-B' }) });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^runwarden: task class t\.broken is not available: its runbook broken \(.*broken\.yaml\) has \d problem\(s\); fix it/);
    expect(bad.stderr).toMatch(/\n {2}.*broken\.yaml:7:5: steps\[0\]\.repeat/);
    const work = await runCli(['work', '--until-idle', ...common], { cwd, env: { OPS_API_URL: sim().url, OPS_API_TOKEN: 'x' } });
    expect(work.code, work.stderr).toBe(0);
    expect(work.stderr).toMatch(/problem\(s\) in the runbooks under .*; task classes t\.broken are not served until they are fixed/);
    expect(work.stdout).toMatch(/1 claim\(s\), idle/);
  });
});

describe('an env.NAME the config does not list', () => {
  it('is reported by validate at the expression, and refused at submit, both saying to list it', async () => {
    await writeFile(join(cwd, 'no-env.yaml'), 'env: [SOMETHING_ELSE]\n');
    const validate = await runCli(['validate', join(FIXTURE_RUNBOOKS, 't-restart.yaml'), '--config', 'no-env.yaml'], { cwd });
    expect(validate.code).toBe(1);
    expect(validate.stderr).toMatch(/t-restart\.yaml:14:\d+: systems\.ops\.baseUrl: env\.OPS_API_URL: OPS_API_URL is not listed under `env:` in no-env\.yaml, .*add it \(env: \[SOMETHING_ELSE, OPS_API_URL\]\)/);
    const submit = await runCli(['submit', '-', '--runbooks', FIXTURE_RUNBOOKS, '--db', join(cwd, 'env-db'), '--config', 'no-env.yaml'], {
      cwd,
      input: JSON.stringify({ taskClass: 't.restart', input: { service: 'x' } }),
    });
    expect(submit.code).toBe(1);
    expect(submit.stderr).toMatch(/task class t\.restart is not available/);
    expect(submit.stderr).toMatch(/OPS_API_URL is not listed under `env:` in no-env\.yaml/);
  });
});

describe('intake limits on the command line', () => {
  it('refuses a 5 MB request file and a request over the limit on stdin before opening the database', async () => {
    const big = join(cwd, 'big.json');
    await writeFile(big, JSON.stringify({ taskClass: 't.restart', input: { blob: 'x'.repeat(5 * 1024 * 1024) } }));
    await writeFile(join(cwd, 'small-limit.yaml'), 'intake: { maxRequestSize: 1KiB }\n');
    const [file, stdin] = await Promise.all([
      runCli(['submit', big, '--db', join(cwd, 'never-created')], { cwd }),
      runCli(['submit', '-', '--json', '--config', 'small-limit.yaml', '--db', join(cwd, 'never-created')], { cwd, input: JSON.stringify({ taskClass: 't.restart', input: { s: 'y'.repeat(2000) } }) }),
    ]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/big\.json is 5\.0 MiB; the limit is 256 KiB \(intake\.maxRequestSize in runwarden\.yaml\)/);
    expect(stdin.code).toBe(1);
    expect(JSON.parse(stdin.stdout)).toMatchObject({ error: { code: 'REQUEST_TOO_LARGE', details: { limit: 'maxRequestSize', maxBytes: 1024 } } });
    expect(spawnSync('ls', [join(cwd, 'never-created')]).status).not.toBe(0);
  });
});

describeBackends('reading commands without the worker secrets, and whatever is stored', ({ db, url, handOff }) => {
  it('show, packet (every format), tasks and takeover work with the secret variables unset; work refuses to start', async () => {
    const h = await harness(db(), sim());
    const config = deploymentConfig({ secrets: h.secrets });
    const esc = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
    sim().setService('read-svc', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/read-svc/restart', status: 403 });
    const t = await h.submit('t.restart', { service: 'read-svc' }, { externalRef: 'INC-READ' });
    await h.work({ hooks: esc.hooks });
    const file = join(cwd, `secrets-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(
      file,
      'env: [OPS_API_URL]\nsecrets:\n  OPS_API_TOKEN: { env: FH_UNSET_TOKEN }\nsinks:\n  pager: { type: pagerduty, routingKey: { env: FH_UNSET_PD } }\nroutes: { default: [pager] }\n',
    );
    const cli = (args: string[]) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS, '--config', file], { cwd, env: { OPS_API_URL: sim().url } });
    const [show, json, md, slack, pd, webhook, tasks, takeover, work] = await handOff(async () => [
      await cli(['show', 'INC-READ']),
      await cli(['packet', 'INC-READ']),
      await cli(['packet', 'INC-READ', '--format', 'md']),
      await cli(['packet', 'INC-READ', '--format', 'slack']),
      await cli(['packet', 'INC-READ', '--format', 'pagerduty']),
      await cli(['packet', 'INC-READ', '--format', 'webhook']),
      await cli(['tasks']),
      await cli(['takeover', 'INC-READ', '--operator', 'ana', '--reason', 'reading without the token']),
      await cli(['work', '--until-idle']),
    ]);
    for (const r of [show, json, md, slack, pd, webhook, tasks, takeover]) expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ task: { id: t.id }, reason: { kind: 'non_retryable' } });
    expect(JSON.parse(slack.stdout)).toMatchObject({ blocks: expect.any(Array), text: expect.stringContaining('Failed, not retryable') });
    expect(JSON.parse(pd.stdout)).toMatchObject({ routing_key: '***', event_action: 'trigger', dedup_key: t.id });
    expect(JSON.parse(webhook.stdout)).toMatchObject({ type: 'escalation.packet', data: { packetId: expect.stringMatching(/^pkt_/) } });
    expect(slack.stdout.trim().split('\n')).toHaveLength(1);
    expect(takeover.stdout).toBe(`${t.id} in_handover\n`);
    // The packet shown after the takeover was refreshed to it; nothing stale to report.
    expect(work.code).toBe(1);
    expect(work.stderr).toMatch(/secrets\.OPS_API_TOKEN\.env: environment variable FH_UNSET_TOKEN is not set/);
  });

  it('show, show --json and tasks work on a row written directly, whatever it holds', async () => {
    const h = await harness(db(), sim());
    const t = await h.submit('t.restart', { service: 'odd' }, { externalRef: 'INC-ODD' });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 4000; i++) deep = { a: deep };
    await db().query(`UPDATE tasks SET input = $2::jsonb, steps = '{"check-health": "not a record", "restart": {"status": "running", "attempts": "many"}}'::jsonb, cursor = '[]'::jsonb, escalation = '"odd"'::jsonb WHERE id = $1`, [
      t.id,
      JSON.stringify({ deep }),
    ]);
    await db().query(`INSERT INTO events (task_id, seq, at, type, step, actor, data) VALUES ($1, 2, now(), 'step.failed', NULL, 'someone', $2::jsonb)`, [t.id, JSON.stringify({ deep })]);
    await db().query('UPDATE tasks SET event_seq = 2 WHERE id = $1', [t.id]);
    const cli = (args: string[]) => runCli([...args, '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd });
    const [show, json, list] = await handOff(async () => [await cli(['show', 'INC-ODD']), await cli(['show', 'INC-ODD', '--json']), await cli(['tasks'])]);
    for (const r of [show, json, list]) expect(r.code, r.stderr).toBe(0);
    expect(show.stdout).toContain('not shown');
    const v = JSON.parse(json.stdout);
    expect(v.steps.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual(['check-health:pending', 'restart:running']);
    expect(JSON.stringify(v.events)).toContain('nested deeper than 64 levels');
    expect(list.stdout).toContain('INC-ODD');
  });

  it('a request nested 4,000 deep is refused by submit and nothing is stored', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 4000; i++) deep = { a: deep };
    const r = await handOff(() =>
      runCli(['submit', '-', '--db', url(), '--runbooks', FIXTURE_RUNBOOKS], { cwd, input: JSON.stringify({ taskClass: 't.restart', externalRef: 'INC-DEEP-CLI', input: { service: 'x', deep } }) }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^runwarden: the task request is nested deeper than 32 levels \(at input\.deep\.a\.a\.a…/);
    expect(await getTask(db(), 'INC-DEEP-CLI')).toBeUndefined();
    expect((await listTasks(db(), { limit: 10_000 })).some((t) => t.externalRef === 'INC-DEEP-CLI')).toBe(false);
  });
});

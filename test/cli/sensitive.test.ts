/**
 * A sensitive input (the order's email, `sensitive: true` in the example runbook) planted in a
 * task that runs end to end through the CLI, with an API that echoes it back in its errors, and
 * then searched for in every output: what submit, work (logs at debug), show, show --json,
 * tasks, and every packet format print; every row of the task in tasks, events, attempts, packets
 * and outbox; and the packets file the sink wrote. The task's stored `input` alone keeps it: the
 * steps need it (and the welcome email went to it).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { EXAMPLE_RUNBOOKS_DIR } from '../../src/demo/run-demo.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { useSim } from '../helpers/sim.js';

vi.setConfig({ testTimeout: 180_000 });

const PLANTED = 'planted.customer.7731@example.com';
let cwd: string;
beforeAll(async () => {
  ensureBuilt();
  cwd = await mkdtemp(join(tmpdir(), 'rw-sensitive-'));
  await writeFile(
    join(cwd, 'runwarden.yaml'),
    'env: [OPS_API_URL, CHANGE_FREEZE]\nsecrets:\n  OPS_API_TOKEN: { env: OPS_API_TOKEN }\nsinks:\n  archive: { type: file, path: ./packets.jsonl }\nroutes: { default: [archive] }\n',
  );
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const sim = useSim();

describeBackends('a sensitive input', ({ db, url, handOff }) => {
  it('shows nowhere but in the stored input: not in any output, ledger, attempt, packet, outbox row or log line', async () => {
    // The welcome email fails with an answer that echoes the request (the address included).
    sim().fault({ method: 'POST', path: '/email/messages', times: -1, status: 422, echoHeaders: true });
    const env = { OPS_API_URL: sim().url, OPS_API_TOKEN: 'sensitive-test-token', RUNWARDEN_LOG_LEVEL: 'debug' };
    const cli = (args: string[], input?: string) => runCli([...args, '--db', url(), '--runbooks', EXAMPLE_RUNBOOKS_DIR], { cwd, env, ...(input === undefined ? {} : { input }) });
    const ref = `ORD-S-${Math.random().toString(36).slice(2, 8)}`;
    const request = { taskClass: 'order.onboard', externalRef: ref, input: { order: 'ord_s1', customer: 'cus_s1', plan: 'pro', amount: 10, email: PLANTED } };
    const outputs = await handOff(async () => {
      const submit = await cli(['submit', '-', '--json'], JSON.stringify(request));
      const work = await cli(['work', '--until-idle']);
      return {
        submit,
        work,
        show: await cli(['show', ref]),
        showJson: await cli(['show', ref, '--json']),
        tasks: await cli(['tasks']),
        tasksJson: await cli(['tasks', '--json']),
        packet: await cli(['packet', ref]),
        md: await cli(['packet', ref, '--format', 'md']),
        slack: await cli(['packet', ref, '--format', 'slack']),
        pagerduty: await cli(['packet', ref, '--format', 'pagerduty']),
        webhook: await cli(['packet', ref, '--format', 'webhook']),
      };
    });
    for (const [name, r] of Object.entries(outputs)) expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    const shown = JSON.parse(outputs.showJson.stdout) as { id: string; state: string; input: Record<string, unknown> };
    // The task ran to the end it should: live, the welcome email missing, a packet to say so.
    expect(shown.state).toBe('partially_completed');
    expect(shown.input.email).toBe('***');
    // The planted value really went where it had to, and came back in the echo.
    expect(JSON.stringify(sim().requests())).toContain(PLANTED);
    // Logs: the debug log of the worker is non-trivial.
    expect(outputs.work.stderr.split('\n').filter(Boolean).length).toBeGreaterThan(5);

    for (const [name, r] of Object.entries(outputs)) {
      expect(r.stdout, `${name} stdout`).not.toContain(PLANTED);
      expect(r.stderr, `${name} stderr`).not.toContain(PLANTED);
    }
    const rows = async (table: string) =>
      (await db().query<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM ${table} x WHERE x.task_id = $1`, [shown.id])).map((r) => r.row);
    const stored = {
      events: await rows('events'),
      attempts: await rows('attempts'),
      packets: await rows('packets'),
      outbox: await rows('outbox'),
      task: (await db().query<{ row: string }>(`SELECT (row_to_json(t)::jsonb - 'input')::text AS row FROM tasks t WHERE id = $1`, [shown.id])).map((r) => r.row),
    };
    expect(stored.events.length).toBeGreaterThan(10);
    expect(stored.attempts.length).toBeGreaterThan(3);
    expect(stored.packets.length).toBeGreaterThan(0);
    for (const [table, list] of Object.entries(stored)) for (const row of list) expect(row, table).not.toContain(PLANTED);
    // What the sink wrote.
    const archive = await readFile(join(cwd, 'packets.jsonl'), 'utf8');
    expect(archive).toContain(shown.id);
    expect(archive).not.toContain(PLANTED);
    // The one place it stays: the input the steps run with.
    const input = await db().query<{ email: string }>(`SELECT input->>'email' AS email FROM tasks WHERE id = $1`, [shown.id]);
    expect(input[0]!.email).toBe(PLANTED);
  });
});

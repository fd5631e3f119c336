/**
 * The worker's log at the default level: one line per task state change (task, runbook, step,
 * new state, why), and never a secret or a sensitive input in any line, even when the other side
 * echoes both back in an error. Planted: the API token (a secret) and an email (an input the
 * runbook marks sensitive), echoed by the simulated API in the failing step's answer, which is
 * what the escalation's reason quotes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { createLogger, prettyLine } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { loadRunbooksOrThrow } from '../../src/runtime.js';
import { createMasker } from '../../src/secrets/mask.js';
import { createService } from '../../src/service.js';
import { getTask } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();
const TOKEN = 'tok_planted_9f3a77c1d2e4b5a6';
const EMAIL = 'planted.person@example.org';

/** A runbook whose one step sends a sensitive input to the API (in its idempotency key, echoed early in the error), with the token. */
const RUNBOOK = `
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

describeBackends('the worker log', ({ db }) => {
  it('says each state change once at info, with the why, and never a secret or sensitive input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-log-'));
    await writeFile(join(dir, 't-sensitive.yaml'), RUNBOOK);
    const runbooks = await loadRunbooksOrThrow(dir);
    const config = deploymentConfig({ env: { OPS_API_URL: sim().url }, secrets: { OPS_API_TOKEN: TOKEN } });
    const masker = createMasker(config.secretValues());
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', destination: new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).split('\n').filter(Boolean)), done()) }) });
    sim().setState({ token: TOKEN });
    // The step fails for good, and the API's error echoes the request (headers with the token, body with the email).
    sim().fault({ method: 'POST', path: '/crm/accounts', status: 400, echoHeaders: true });
    const { task } = await submitTask(
      db(),
      runbooks,
      { taskClass: 't.sensitive', input: { email: EMAIL }, requestedBy: 'test' },
      { now: new Date(), env: { ...config.env }, secrets: { ...config.secrets } },
    );

    await createService({ db: db(), config, runbooks, masker, logger }, { pollMs: 50, leaseMs: 5000 }).runUntilIdle();

    expect((await getTask(db(), task.id))?.state).toBe('escalated');
    const all = lines.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(EMAIL);
    const changes = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'task state changed' && l.taskId === task.id);
    expect(changes.map((c) => [c.from, c.state])).toEqual([
      ['queued', 'running'],
      ['running', 'escalated'],
    ]);
    expect(changes.every((c) => c.level === 30 && c.runbook === 't-sensitive')).toBe(true);
    const stopped = changes[1]!;
    expect(stopped.step).toBe('register');
    // The why is there (the failure, quoting what the API said), with both planted values masked.
    expect(String(stopped.reason)).toMatch(/^non_retryable: register: HTTP 400 /);
    expect(String(stopped.reason)).toContain('"authorization":"Bearer ***"');
    expect(String(stopped.reason)).toContain('"idempotency-key":"register:***"');
  });
});

it('formats a JSON line for a terminal: time, level, message, then the task fields first', () => {
  const line = prettyLine(JSON.stringify({ level: 30, time: Date.parse('2025-01-01T18:02:11Z'), msg: 'task state changed', state: 'escalated', taskId: 'tsk_1', reason: 'non_retryable at restart: HTTP 403', extra: 1 }));
  expect(line).toBe('18:02:11 INFO  task state changed taskId=tsk_1 state=escalated reason="non_retryable at restart: HTTP 403" extra=1\n');
});

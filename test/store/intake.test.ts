/**
 * Intake against a real database: accepted requests are stored `queued` with every step pending
 * and a wake-up NOTIFY; unknown classes, invalid input (with JSON paths) and guard denials are
 * stored `rejected` with their reasons, never dropped; externalRef deduplicates under
 * concurrency through the unique index.
 */
import { expect, it } from 'vitest';
import { isRunwardenError } from '../../src/errors.js';
import { parseRequestText, submitTask } from '../../src/orchestrator/intake.js';
import { WAKE_CHANNEL } from '../../src/orchestrator/wake.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { openDb } from '../../src/store/db.js';
import { listEvents, listTasks } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';

const RUNBOOK = `
runbook: svc-restart
version: 3
title: Restart a service
owner: platform-oncall
taskClasses: [service.restart]
input:
  type: object
  required: [service, environment]
  properties:
    service: { type: string, pattern: "^[a-z0-9-]+$" }
    environment: { type: string, enum: [staging, production] }
systems:
  svc: { baseUrl: "https://svc.example" }
policy:
  deadline: 15m
  retryBudget: 6
  guards:
    - name: change-freeze
      deny: "input.environment == 'production' && env.CHANGE_FREEZE == 'true'"
      message: production changes are frozen
    - name: needs-owner
      deny: "input.environment == 'staging' && env.STAGING_OWNER == ''"
      message: staging has no owner on record
steps:
  - id: check-health
    action: http
    with: { system: svc, method: GET, path: "/services/\${input.service}/health" }
  - id: restart
    action: http
    with: { system: svc, method: POST, path: "/services/\${input.service}/restart" }
    repeat: keyed
  - id: confirm
    action: http
    with: { system: svc, method: GET, path: "/services/\${input.service}/health" }
`;

function runbooks(): RunbookSet {
  const { runbook, problems } = compileRunbookText(RUNBOOK, 'svc-restart.yaml');
  if (!runbook) throw new Error(problems.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`).join('\n'));
  return buildRunbookSet([runbook]);
}

const NOW = new Date('2025-06-01T12:00:00Z');
const ENV = { CHANGE_FREEZE: 'false', STAGING_OWNER: 'ann' };
const opts = (env: Record<string, string> = ENV) => ({ now: NOW, env, secrets: { TOKEN: 's3cret-value' } });

describeBackends('intake', ({ db, kind, url }) => {
  const set = runbooks();

  it('stores an accepted request as queued, every step pending, with its budget, deadline and first event, and wakes workers', async () => {
    let wake!: (id: string) => void;
    const woken = new Promise<string>((r) => (wake = r));
    const unlisten = await db().listen(WAKE_CHANNEL, (id) => wake(id));
    try {
      const { task, created } = await submitTask(db(), set, { taskClass: 'service.restart', externalRef: 'INC-4211', requestedBy: 'queue:ops', input: { service: 'billing-api', environment: 'production' }, priority: 5 }, opts());
      expect(created).toBe(true);
      expect(task).toMatchObject({
        state: 'queued',
        externalRef: 'INC-4211',
        taskClass: 'service.restart',
        runbookId: 'svc-restart',
        runbookVersion: 3,
        requestedBy: 'queue:ops',
        priority: 5,
        retryUsed: 0,
        retryLimit: 6,
        deadlineAt: new Date(NOW.getTime() + 15 * 60_000),
        currentStep: null,
        rejection: null,
        eventSeq: 1,
        createdAt: NOW,
      });
      // jsonb keeps keys in its own order, not the runbook's: `show` orders steps by the runbook.
      expect(Object.keys(task.steps).sort()).toEqual(['check-health', 'confirm', 'restart']);
      for (const s of Object.values(task.steps)) expect(s).toEqual({ status: 'pending', attempts: 0, captures: {} });
      expect(await listEvents(db(), task.id)).toMatchObject([{ seq: 1, type: 'intake.accepted', actor: 'intake', at: NOW, step: null }]);
      expect(await woken).toBe(task.id);
    } finally {
      await unlisten();
    }
  });

  it('stores an unknown task class as rejected, naming the known classes', async () => {
    const { task, created } = await submitTask(db(), set, { taskClass: 'service.reboot', input: { service: 'x' } }, opts());
    expect(created).toBe(true);
    expect(task).toMatchObject({ state: 'rejected', taskClass: 'service.reboot', runbookId: null, rejection: { kind: 'unknown_class' } });
    const problems = (task.rejection as { problems: { path: string; message: string }[] }).problems;
    expect(problems).toEqual([{ path: 'taskClass', message: expect.stringContaining('known classes: service.restart') }]);
    expect(await listEvents(db(), task.id)).toMatchObject([{ seq: 1, type: 'intake.rejected', data: { kind: 'unknown_class' } }]);
  });

  it('stores invalid input as rejected with every problem at its JSON path', async () => {
    const { task } = await submitTask(db(), set, { taskClass: 'service.restart', input: { service: 'Billing API', environment: 'prod' } }, opts());
    expect(task.state).toBe('rejected');
    const r = task.rejection as { kind: string; problems: { path: string; message: string }[] };
    expect(r.kind).toBe('invalid_input');
    expect(r.problems.map((p) => p.path).sort()).toEqual(['input.environment', 'input.service']);
    expect(task.input).toEqual({ service: 'Billing API', environment: 'prod' });
    const missing = await submitTask(db(), set, { taskClass: 'service.restart', input: { service: 'ok' } }, opts());
    expect((missing.task.rejection as typeof r).problems).toEqual([{ path: 'input.environment', message: expect.any(String) }]);
  });

  it('stores a request that does not match the request schema as rejected, with its paths', async () => {
    const { task } = await submitTask(db(), set, { taskClass: 'service.restart', input: { service: 'ok', environment: 'staging' }, priority: 'high', colour: 'red' }, opts());
    expect(task.state).toBe('rejected');
    const r = task.rejection as { kind: string; problems: { path: string }[] };
    expect(r.kind).toBe('invalid_request');
    expect(r.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['priority']));
  });

  it('stores a guard denial as rejected off_policy with the guard and its message', async () => {
    const { task } = await submitTask(db(), set, { taskClass: 'service.restart', input: { service: 'billing-api', environment: 'production' } }, opts({ ...ENV, CHANGE_FREEZE: 'true' }));
    expect(task).toMatchObject({ state: 'rejected', rejection: { kind: 'off_policy', problems: [{ path: 'policy.guards.change-freeze', message: 'production changes are frozen' }] } });
  });

  it('fails closed: a guard that cannot be evaluated denies, and says so', async () => {
    // STAGING_OWNER is not in env: the guard errors on the missing key.
    const { task } = await submitTask(db(), set, { taskClass: 'service.restart', input: { service: 'billing-api', environment: 'staging' } }, opts({ CHANGE_FREEZE: 'false' }));
    expect(task.state).toBe('rejected');
    const [p] = (task.rejection as { problems: { path: string; message: string }[] }).problems;
    expect(p!.path).toBe('policy.guards.needs-owner');
    expect(p!.message).toMatch(/could not be evaluated, so it denies/);
  });

  it('refuses malformed JSON as REQUEST_INVALID before anything is stored', () => {
    try {
      parseRequestText('{"taskClass": ', 'req.json');
      throw new Error('parsed');
    } catch (err) {
      expect(isRunwardenError(err) && err.code).toBe('REQUEST_INVALID');
      expect((err as Error).message).toMatch(/req\.json is not valid JSON/);
    }
  });

  it('returns the existing task for the same request again under its externalRef, and creates nothing', async () => {
    const req = { taskClass: 'service.restart', externalRef: 'INC-SEQ', input: { service: 'a', environment: 'staging' } };
    const first = await submitTask(db(), set, req, opts());
    // Key order and an explicit default make no difference: it is the same request.
    const second = await submitTask(db(), set, { input: { environment: 'staging', service: 'a' }, priority: 0, externalRef: 'INC-SEQ', taskClass: 'service.restart' }, opts());
    expect(second.created).toBe(false);
    expect(second.task.id).toBe(first.task.id);
    expect(await listEvents(db(), first.task.id)).toHaveLength(1);
  });

  it('refuses a different request under a taken externalRef as EXTERNAL_REF_CONFLICT naming what differs, and stores nothing', async () => {
    const req = { taskClass: 'service.restart', externalRef: 'INC-DIFF', input: { service: 'a', environment: 'staging' } };
    const first = await submitTask(db(), set, req, opts());
    const conflict = async (other: unknown) => {
      const err = await submitTask(db(), set, other, opts()).then(() => undefined, (e: unknown) => e);
      if (!isRunwardenError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
      return err;
    };
    const input = await conflict({ ...req, input: { service: 'b', environment: 'staging' } });
    expect(input.code).toBe('EXTERNAL_REF_CONFLICT');
    expect(input.exitCode).toBe(1);
    expect(input.httpStatus).toBe(409);
    expect(input.details).toMatchObject({ taskId: first.task.id, differs: ['input.service'] });
    expect(input.message).toContain(`already names task ${first.task.id}`);
    // Another task class under the same ticket: named with both classes.
    const cls = await conflict({ taskClass: 'service.reboot', externalRef: 'INC-DIFF', input: {} });
    expect(cls.details.differs).toEqual(['taskClass', 'input.environment', 'input.service']);
    expect(cls.message).toContain('it is service.restart, this request is service.reboot');
    expect((await conflict({ ...req, requestedBy: 'someone' })).details.differs).toEqual(['requestedBy']);
    expect((await conflict({ ...req, priority: 3 })).details.differs).toEqual(['priority']);
    // The values are not quoted: an input may be sensitive.
    expect(input.message).not.toContain("'b'");
    expect((await listTasks(db(), { limit: 1000 })).filter((t) => t.externalRef === 'INC-DIFF')).toHaveLength(1);
    expect(await listEvents(db(), first.task.id)).toHaveLength(1);
  });

  it('treats a rejected task the same way: the same request returns it, a corrected one needs a new externalRef', async () => {
    const bad = { taskClass: 'service.restart', externalRef: 'INC-REJ', input: { service: 'Bad Name', environment: 'staging' } };
    const first = await submitTask(db(), set, bad, opts());
    expect(first.task.state).toBe('rejected');
    const again = await submitTask(db(), set, bad, opts());
    expect(again).toMatchObject({ created: false, task: { id: first.task.id, state: 'rejected' }, rejection: { kind: 'invalid_input' } });
    const fixed = await submitTask(db(), set, { ...bad, input: { service: 'good', environment: 'staging' } }, opts()).then(() => undefined, (e: unknown) => e);
    expect(isRunwardenError(fixed) && fixed.message).toMatch(/was rejected, so a corrected request needs a new externalRef/);
  });

  it('deduplicates by externalRef even when the ref is another task\'s id', async () => {
    const base = { taskClass: 'service.restart', input: { service: 'a', environment: 'staging' } };
    const a = await submitTask(db(), set, base, opts());
    const b = await submitTask(db(), set, { ...base, externalRef: a.task.id }, opts());
    expect(b.created).toBe(true);
    const c = await submitTask(db(), set, { ...base, externalRef: a.task.id }, opts());
    expect(c).toMatchObject({ created: false, task: { id: b.task.id } });
  });

  it('refuses a request over the intake limits before anything is stored: nested 4,000 deep, or 5 MB', async () => {
    const before = (await listTasks(db(), { limit: 10_000 })).length;
    let deep: unknown = 'x';
    for (let i = 0; i < 4000; i++) deep = { a: deep };
    const refused = async (request: unknown, limits?: { maxRequestBytes: number; maxDepth: number }) => {
      const err = await submitTask(db(), set, request, { ...opts(), ...(limits ? { limits } : {}) }).then(() => undefined, (e: unknown) => e);
      if (!isRunwardenError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
      return err;
    };
    const tooDeep = await refused({ taskClass: 'service.restart', externalRef: 'INC-DEEP', input: { service: 'a', environment: 'staging', deep } });
    expect(tooDeep).toMatchObject({ code: 'REQUEST_TOO_LARGE', details: { limit: 'maxDepth', maxDepth: 32 } });
    expect(tooDeep.message).toMatch(/nested deeper than 32 levels \(at input\.deep\.a\.a\.a…/);
    const big = await refused({ taskClass: 'service.restart', input: { service: 'a', environment: 'staging', blob: 'x'.repeat(5 * 1024 * 1024) } });
    expect(big).toMatchObject({ code: 'REQUEST_TOO_LARGE', details: { limit: 'maxRequestSize', maxBytes: 262144 } });
    expect(big.message).toMatch(/is 5\.0 MiB as JSON; the limit is 256 KiB \(intake\.maxRequestSize in runwarden\.yaml\)/);
    expect(big.httpStatus).toBe(413);
    // The limits are the deployment's to set.
    const shallow = { taskClass: 'service.restart', input: { service: 'a', environment: 'staging', n: { m: 1 } } };
    expect((await refused(shallow, { maxRequestBytes: 1024, maxDepth: 2 })).details).toMatchObject({ limit: 'maxDepth' });
    expect((await submitTask(db(), set, shallow, { ...opts(), limits: { maxRequestBytes: 1024, maxDepth: 3 } })).task.state).toBe('queued');
    expect((await listTasks(db(), { limit: 10_000 })).length).toBe(before + 1);
  });

  it('refuses request text over the size limit before parsing it', () => {
    const text = JSON.stringify({ taskClass: 'service.restart', input: { blob: 'é'.repeat(200_000) } });
    try {
      parseRequestText(text, 'big.json');
      throw new Error('parsed');
    } catch (err) {
      expect(isRunwardenError(err) && err.code).toBe('REQUEST_TOO_LARGE');
      expect((err as Error).message).toMatch(/^big\.json is 390\.7 KiB; the limit is 256 KiB/);
    }
  });

  it('refuses a class whose runbook does not load, with its problems, and stores nothing: the same request works once it is fixed', async () => {
    const broken = { ...set, unavailable: new Map([['service.fix', { file: 'runbooks/fix.yaml', id: 'svc-fix', problems: [{ path: 'steps[0].action', message: 'unknown action', file: 'runbooks/fix.yaml', line: 9, col: 13 }] }]]) };
    const req = { taskClass: 'service.fix', externalRef: 'INC-FIX', input: {} };
    const err = await submitTask(db(), broken, req, opts()).then(() => undefined, (e: unknown) => e);
    expect(isRunwardenError(err) && err.code).toBe('RUNBOOK_INVALID');
    expect((err as Error).message).toBe('task class service.fix is not available: its runbook svc-fix (runbooks/fix.yaml) has 1 problem(s); fix it (runwarden validate) and send the request again');
    expect(isRunwardenError(err) && err.problems).toHaveLength(1);
    expect((await listTasks(db(), { limit: 10_000 })).filter((t) => t.externalRef === 'INC-FIX')).toHaveLength(0);
  });

  it('records which inputs are sensitive with the acceptance, so later views mask them without the runbook', async () => {
    const { runbook } = compileRunbookText(RUNBOOK.replace('environment: { type: string, enum: [staging, production] }', 'environment: { type: string, enum: [staging, production] }\n    contact: { type: string, sensitive: true }'), 'svc.yaml');
    const { task } = await submitTask(db(), buildRunbookSet([runbook!]), { taskClass: 'service.restart', input: { service: 'a', environment: 'staging', contact: 'ann@example.com' } }, opts());
    expect((await listEvents(db(), task.id))[0]).toMatchObject({ type: 'intake.accepted', data: { sensitiveInputs: ['contact'] } });
  });

  it(`creates exactly one task from 20 concurrent requests with one externalRef (${kind === 'postgres' ? 'two pools, truly concurrent' : 'one connection, interleaved'})`, async () => {
    // On PostgreSQL a second pool puts the requests on up to 20 connections at once.
    const other = kind === 'postgres' ? await openDb(url(), { migrate: false, poolSize: 10 }) : db();
    try {
      const req = { taskClass: 'service.restart', externalRef: 'INC-RACE', input: { service: 'race', environment: 'staging' } };
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => submitTask(i % 2 ? other : db(), set, req, opts())));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.task.id)).size).toBe(1);
      const stored = (await listTasks(db(), { limit: 1000 })).filter((t) => t.externalRef === 'INC-RACE');
      expect(stored).toHaveLength(1);
      expect(await listEvents(db(), stored[0]!.id)).toHaveLength(1);
    } finally {
      if (other !== db()) await other.close();
    }
  });
});

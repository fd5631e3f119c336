/**
 * `retry.<class>.confirm: true`: a step that succeeded only after a retry of that class waits in
 * `awaiting_approval` (reason `confirm_after_retry`) for a person, with the failure and the
 * success in its packet; one that succeeded at once goes straight on. Approved, the task finishes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { approve } from '../../src/orchestrator/operator.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { deploymentConfig } from '../../src/config/index.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { listPackets } from '../../src/store/packets.js';
import { getTask, listAttempts } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN, testWorker } from '../helpers/harness.js';

let sim: Sim;
let runbooks: RunbookSet;
beforeAll(async () => {
  sim = await startSim({ token: OPS_TOKEN });
  const text = (await readFile(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), 'utf8')).replace(
    'transient: { attempts: 3, backoff: exponential, delay: 20ms, maxDelay: 100ms }',
    'transient: { attempts: 3, backoff: exponential, delay: 20ms, maxDelay: 100ms, confirm: true }',
  );
  const c = compileRunbookText(text, 't-restart.yaml');
  if (!c.runbook) throw new Error(JSON.stringify(c.problems));
  expect(c.runbook.steps[1]!.retry.transient!.confirm).toBe(true);
  runbooks = buildRunbookSet([c.runbook]);
});
afterAll(async () => {
  await sim?.close();
});

describeBackends('confirm after retry', (b) => {
  it('pauses a success that needed a retry for a person, and only that one', async () => {
    const db = b.db();
    const env = { OPS_API_URL: sim.url };
    const secrets = { OPS_API_TOKEN: OPS_TOKEN };
    const masker = createMasker([OPS_TOKEN]);
    const config = deploymentConfig({ env, secrets });
    const escalation = escalationHooks({ config, runbooks, masker });
    sim.reset();
    sim.setState({ token: OPS_TOKEN });
    sim.setService('retried', { status: 'degraded' });
    sim.setService('at-once', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/retried/restart', status: 503, times: 1 });
    const submit = async (service: string) => (await submitTask(db, runbooks, { taskClass: 't.restart', input: { service } }, { now: new Date(), env, secrets })).task;
    const retried = await submit('retried');
    const atOnce = await submit('at-once');
    const work = () => testWorker({ db, runbooks, env, secrets, masker }, { hooks: escalation.hooks }).runUntilIdle();
    await work();

    expect((await getTask(db, atOnce.id))!.state).toBe('completed');
    const paused = (await getTask(db, retried.id))!;
    expect(paused.state).toBe('awaiting_approval');
    expect(paused.escalation).toMatchObject({ kind: 'confirm_after_retry', failureClass: 'transient', step: 'restart' });
    const tries = (await listAttempts(db, retried.id)).filter((a) => a.step === 'restart' && a.kind === 'action');
    expect(tries.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    // The packet asks for a decision, and carries the failure and the success.
    const [packet] = await listPackets(db, retried.id);
    expect(packet!.reason).toBe('confirm_after_retry');
    const body = packet!.body as { recommendation: { action: string }; attempts: { step: string; kind: string; outcome: string }[]; evidence: { kind: string; error?: string }[] };
    expect(body.recommendation.action).toBe('approve');
    expect(body.attempts.filter((a) => a.step === 'restart' && a.kind === 'action').map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
    expect(body.evidence.some((e) => e.kind === 'error' && /503/.test(e.error ?? ''))).toBe(true);

    await approve({ db, runbooks, now: new Date(), onAction: escalation.onAction }, retried.id, { operator: 'ana', reason: 'the service is healthy' });
    await work();
    expect((await getTask(db, retried.id))!.state).toBe('completed');
    // The restart is not run again after the confirmation.
    expect(sim.requests().filter((r) => r.method === 'POST' && r.path === '/services/retried/restart')).toHaveLength(2);
  });
});

/**
 * Acknowledgement deadlines: an escalated task nobody acted on is escalated again to the next
 * route of `then` once per `ackWithin` window (a ledger event and a packet delivered to that
 * route's sink), stops after the last route, and one an operator acted on is left alone. The
 * watch runs on an injected clock against a real database (both backends).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { AckWatch } from '../../src/escalation/ack-watch.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { createDeliverer } from '../../src/escalation/outbox-delivery.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { takeover } from '../../src/orchestrator/operator.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { listPackets } from '../../src/store/packets.js';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { FIXTURE_RUNBOOKS, OPS_TOKEN, testWorker } from '../helpers/harness.js';

let sim: Sim;
let runbooks: RunbookSet;
let dir: string;
beforeAll(async () => {
  sim = await startSim({ token: OPS_TOKEN });
  dir = await mkdtemp(join(tmpdir(), 'rw-ack-'));
  const text = (await readFile(join(FIXTURE_RUNBOOKS, 't-restart.yaml'), 'utf8')).replace(
    'steps:\n',
    'escalation:\n  ackWithin: 15m\n  then: [platform-lead, eng-manager]\nsteps:\n',
  );
  const c = compileRunbookText(text, 't-restart.yaml');
  if (!c.runbook) throw new Error(JSON.stringify(c.problems));
  runbooks = buildRunbookSet([c.runbook]);
});
afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

const MIN = 60_000;

describeBackends('acknowledgement deadlines', (b) => {
  it('escalates an unacknowledged task to the next route once per window, and stops after the last', async () => {
    const db = b.db();
    const env = { OPS_API_URL: sim.url };
    const secrets = { OPS_API_TOKEN: OPS_TOKEN };
    const masker = createMasker([OPS_TOKEN]);
    const file = (name: string) => ({ name, type: 'file' as const, path: join(dir, `${b.kind}-${name}.jsonl`) });
    const config = deploymentConfig({
      env,
      secrets,
      sinks: { oncall: file('oncall'), lead: file('lead'), manager: file('manager') },
      routes: { 'platform-oncall': ['oncall'], 'platform-lead': ['lead'], 'eng-manager': ['manager'] },
    });
    const escalation = escalationHooks({ config, runbooks, masker });
    sim.reset();
    sim.setState({ token: OPS_TOKEN });
    sim.setService('ack-a', { status: 'degraded' });
    sim.setService('ack-b', { status: 'degraded' });
    // A business failure: escalated at once, no retry.
    sim.fault({ method: 'POST', path: '/services/*', status: 409, times: -1 });
    const submit = async (service: string) => (await submitTask(db, runbooks, { taskClass: 't.restart', input: { service } }, { now: new Date(), env, secrets })).task;
    const ignored = await submit('ack-a');
    const handled = await submit('ack-b');
    await testWorker({ db, runbooks, env, secrets, masker }, { hooks: escalation.hooks }).runUntilIdle();
    expect((await getTask(db, ignored.id))!.state).toBe('escalated');
    await takeover({ db, runbooks, now: new Date(), onAction: escalation.onAction }, handled.id, { operator: 'ana', reason: 'on it' });

    const clock = fakeClock(new Date(Date.now() + 1000));
    const watch = new AckWatch({ db, runbooks, emit: { config, masker }, logger: silentLogger, clock });
    expect(await watch.tick()).toEqual([]);
    clock.advance(14 * MIN);
    expect(await watch.tick()).toEqual([]);

    clock.advance(1 * MIN);
    expect(await watch.tick()).toEqual([{ taskId: ignored.id, route: 'platform-lead', round: 1 }]);
    // Once per window: looking again in the same window does nothing.
    expect(await watch.tick()).toEqual([]);
    clock.advance(14 * MIN);
    expect(await watch.tick()).toEqual([]);
    clock.advance(1 * MIN);
    expect(await watch.tick()).toEqual([{ taskId: ignored.id, route: 'eng-manager', round: 2 }]);
    // After the last route it stops.
    clock.advance(60 * MIN);
    expect(await watch.tick()).toEqual([]);

    const events = (await listEvents(db, ignored.id)).filter((e) => e.type === 'escalation.reescalated');
    expect(events.map((e) => [e.data.route, e.data.round])).toEqual([['platform-lead', 1], ['eng-manager', 2]]);
    expect(events[1]!.at.getTime() - events[0]!.at.getTime()).toBe(15 * MIN);
    expect((await listPackets(db, ignored.id)).map((p) => p.route).sort()).toEqual(['eng-manager', 'platform-lead', 'platform-oncall']);
    // The task taken over was acknowledged: one packet, never escalated again.
    expect((await listPackets(db, handled.id)).map((p) => p.route)).toEqual(['platform-oncall']);

    // Each re-escalation is delivered through the outbox to its route's sink.
    await createDeliverer({ db, config, masker, logger: silentLogger, advisor: null, now: () => clock.now() }).deliver();
    for (const [sink, n] of [['oncall', 2], ['lead', 1], ['manager', 1]] as const) {
      const lines = (await readFile(join(dir, `${b.kind}-${sink}.jsonl`), 'utf8')).trim().split('\n');
      expect(lines, sink).toHaveLength(n);
    }
    const delivered = (await listEvents(db, ignored.id)).filter((e) => e.type === 'packet.delivery');
    expect(delivered.length).toBeGreaterThanOrEqual(3);
    for (const e of delivered) expect(e.data.role).toBe('escalation');
  });
});

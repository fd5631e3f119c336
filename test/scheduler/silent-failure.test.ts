/**
 * `expectSuccessWithin` end to end on both backends, on a fake clock: a runbook whose runs keep
 * escalating gets exactly one silent-failure packet, delivered once to PagerDuty and Slack (msw)
 * beside each run's own packet and keyed apart from it; closing a run does not resolve it; the
 * first completed run does, with a PagerDuty resolve and a Slack follow-up through the outbox.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { PAGERDUTY_EVENTS_URL } from '../../src/config/schema.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { deliverDue } from '../../src/escalation/outbox-delivery.js';
import { fail } from '../../src/orchestrator/operator.js';
import { pauseSchedule, scheduleStatuses } from '../../src/scheduler/index.js';
import { createMasker } from '../../src/secrets/mask.js';
import { latestPacket, listPackets } from '../../src/store/packets.js';
import { getScheduleRow } from '../../src/store/schedules.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { OPS_TOKEN } from '../helpers/harness.js';
import { listScheduleEvents, scheduledTasks, scheduleRunbooks, scheduleWorld } from '../helpers/schedules.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { sinkConfig, SLACK_URL, useSinkMock } from '../escalation/sink-mock.js';

vi.setConfig({ testTimeout: 120_000 });

let sim: Sim;
const mock = useSinkMock();
beforeAll(async () => {
  sim = await startSim({ token: OPS_TOKEN });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

type PdEvent = { event_action: string; dedup_key: string; payload?: { class: string } };

describeBackends('silent failure of a schedule', ({ db }) => {
  it('one packet while the runs keep escalating, kept apart from theirs, resolved at PagerDuty and Slack by the first completed run', async () => {
    const clock = fakeClock('2026-07-01T09:59:00Z');
    const runbooks = await scheduleRunbooks('s-watched');
    const config = sinkConfig(join(await mkdtemp(join(tmpdir(), 'rw-silent-')), 'packets.jsonl'), { secrets: { OPS_API_TOKEN: OPS_TOKEN } });
    const masker = createMasker(config.secretValues());
    const w = scheduleWorld(db(), runbooks, clock, { simUrl: sim.url, config });
    const s = w.scheduler({ watchdog: false });
    const deliver = () => deliverDue({ db: db(), config, masker, now: clock.now() });
    const at = async (iso: string) => {
      clock.set(new Date(iso));
      await s.tick();
      await w.work();
      await deliver();
    };
    const pd = () => mock.to(PAGERDUTY_EVENTS_URL).map((r) => JSON.parse(r.body) as PdEvent);
    const silentPackets = async () => {
      const out = [];
      for (const t of await scheduledTasks(db(), 's-watched')) out.push(...(await listPackets(db(), t.id)).filter((p) => p.reason === 'silent_failure'));
      return out;
    };

    sim.fault({ method: 'GET', path: '/services/s-watched/health', status: 403, times: -1 });
    await at('2026-07-01T09:59:00Z');
    await at('2026-07-01T10:00:05Z');
    const [first] = await scheduledTasks(db(), 's-watched');
    expect(first!.state).toBe('escalated');
    await at('2026-07-01T10:29:59Z');
    expect(await silentPackets()).toEqual([]);
    // 30 minutes after the 10:00 fire with no completed run: silent.
    await at('2026-07-01T10:30:00Z');
    for (const iso of ['2026-07-01T11:00:05Z', '2026-07-01T11:30:00Z', '2026-07-01T12:00:05Z', '2026-07-01T12:45:00Z']) await at(iso);
    const runs = await scheduledTasks(db(), 's-watched');
    expect(runs.map((t) => t.state)).toEqual(['escalated', 'escalated', 'escalated']);

    const silent = await silentPackets();
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({ taskId: first!.id, route: 'platform-oncall', resolvedAt: null });
    expect(silent[0]!.body).toMatchObject({
      reason: { kind: 'silent_failure', step: null, message: expect.stringMatching(/^no run completed within 30m of the fire at 2026-07-01T10:00:00\.000Z \(none has completed yet; the latest, tsk_\w+, is escalated \(non_retryable at check\)\)$/) },
      recommendation: { action: null, commands: expect.arrayContaining(['runwarden schedule show s-watched']) },
    });
    // At the sinks: each run's own alert (keyed by its task) and one for the schedule.
    const triggers = pd().filter((e) => e.event_action === 'trigger');
    expect(triggers.map((e) => e.dedup_key).sort()).toEqual([...runs.map((t) => t.id), 'schedule:s-watched'].sort());
    expect(triggers.filter((e) => e.payload?.class === 'silent_failure')).toHaveLength(1);
    expect(mock.to(SLACK_URL).filter((r) => r.body.includes('Silent failure'))).toHaveLength(1);
    // `runwarden packet <run>` shows the run's own packet, not the schedule's hanging on it.
    expect((await latestPacket(db(), first!.id))!.reason).not.toBe('silent_failure');
    const raised = (await listScheduleEvents(db(), 's-watched')).filter((e) => e.type === 'silent_failure');
    expect(raised.map((e) => e.data)).toEqual([expect.objectContaining({ packetId: silent[0]!.id, taskId: first!.id, firstDue: '2026-07-01T10:00:00.000Z', deadline: '2026-07-01T10:30:00.000Z', lastSuccess: null })]);
    expect((await scheduleStatuses(db(), runbooks, clock.now()))[0]).toMatchObject({ health: 'late', alert: { packetId: silent[0]!.id } });

    // An operator closes the first run: its own packet resolves, the schedule's stays open.
    const esc = escalationHooks({ config, runbooks, masker });
    await fail({ db: db(), runbooks, now: clock.now(), onAction: esc.onAction }, first!.id, { operator: 'ana', reason: 'looked at it' });
    await deliver();
    expect((await silentPackets())[0]!.resolvedAt).toBeNull();
    expect(pd().filter((e) => e.event_action === 'resolve').map((e) => e.dedup_key)).toEqual([first!.id]);

    // The service is fixed: the 13:00 run completes and the alert resolves, once.
    mock.reset();
    sim.reset();
    await at('2026-07-01T13:00:05Z');
    await at('2026-07-01T13:00:15Z');
    await at('2026-07-01T13:05:00Z');
    const fixed = (await scheduledTasks(db(), 's-watched')).at(-1)!;
    expect(fixed.state).toBe('completed');
    expect((await silentPackets())[0]!.resolvedAt).not.toBeNull();
    expect(pd()).toEqual([{ routing_key: expect.any(String), event_action: 'resolve', dedup_key: 'schedule:s-watched' }]);
    const followUps = mock.to(SLACK_URL).map((r) => JSON.parse(r.body) as { text: string });
    expect(followUps.map((m) => m.text)).toEqual([expect.stringMatching(/^Resolved: s-watched has a completed run again/)]);
    expect((await listScheduleEvents(db(), 's-watched')).filter((e) => e.type === 'silent_failure.resolved').map((e) => e.data)).toEqual([
      { packetId: silent[0]!.id, by: fixed.id, completedAt: fixed.updatedAt.toISOString() },
    ]);
    expect((await getScheduleRow(db(), 's-watched'))!.alertPacketId).toBeNull();
    expect((await scheduleStatuses(db(), runbooks, clock.now()))[0]).toMatchObject({ health: 'ok', alert: null });

    // Silent again later: a new packet (a new alert at the sinks), and pausing resolves it.
    sim.fault({ method: 'GET', path: '/services/s-watched/health', status: 403, times: -1 });
    await at('2026-07-01T14:00:05Z');
    await at('2026-07-01T14:30:00Z');
    expect(await silentPackets()).toHaveLength(2);
    await pauseSchedule({ db: db(), runbooks, env: w.env, secrets: w.secrets, emit: w.emit, now: clock.now() }, 's-watched', { operator: 'ana', reason: 'maintenance' });
    await deliver();
    expect((await silentPackets()).every((p) => p.resolvedAt !== null)).toBe(true);
    const [paused, resolved] = (await listScheduleEvents(db(), 's-watched')).slice(-2);
    expect(paused).toMatchObject({ type: 'schedule.paused', actor: 'operator:ana', data: { operator: 'ana', reason: 'maintenance' } });
    expect(resolved).toMatchObject({ type: 'silent_failure.resolved', actor: 'operator:ana', data: { why: 'the schedule was paused' } });
  });
});

/**
 * The composition root runs the scheduler: a service built by createService (as `work`, the demo
 * and `serve` build theirs) makes a schedule's fire into a task and its worker carries it to the
 * end, while `runUntilIdle` (`work --until-idle`) makes no scheduled runs.
 */
import { expect, it, vi } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createService } from '../../src/service.js';
import { createMasker } from '../../src/secrets/mask.js';
import { getScheduleRow } from '../../src/store/schedules.js';
import { describeBackends } from '../helpers/backends.js';
import { fakeClock } from '../helpers/clock.js';
import { OPS_TOKEN } from '../helpers/harness.js';
import { scheduledTasks, scheduleRunbooks } from '../helpers/schedules.js';
import { useSim } from '../helpers/sim.js';

vi.setConfig({ testTimeout: 60_000 });
const sim = useSim();

/** Resolves once `check` holds, looking every 20 ms (a state, not a duration, is what is waited for). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

describeBackends('the service runs the scheduler', ({ db }) => {
  it('run() fires the schedule and works its run to the end; runUntilIdle() makes none', async () => {
    sim().setService('s-allow', { status: 'healthy' });
    const clock = fakeClock('2026-04-01T09:59:59Z');
    const runbooks = await scheduleRunbooks('s-allow');
    const config = deploymentConfig({ env: { OPS_API_URL: sim().url }, secrets: { OPS_API_TOKEN: OPS_TOKEN } });
    const rt = { db: db(), config, runbooks, masker: createMasker(config.secretValues()), logger: silentLogger };

    const idle = createService(rt, { clock, pollMs: 20 });
    clock.set(new Date('2026-04-01T10:10:05Z'));
    await idle.runUntilIdle();
    expect(await getScheduleRow(db(), 's-allow')).toBeUndefined();

    const service = createService(rt, { clock, pollMs: 20, scheduler: { tickMs: 1000, watchdog: false } });
    const running = service.run();
    await until(async () => (await getScheduleRow(db(), 's-allow')) !== undefined);
    // The scheduler sleeps on the fake clock: the fire comes when the clock gets there. Its next
    // sleep may start after the jump (it goes to sleep once its tick has committed), so the clock
    // keeps moving in small steps, well inside the fire's grace, until the run has completed.
    clock.set(new Date('2026-04-01T10:20:01Z'));
    await until(async () => {
      if ((await scheduledTasks(db(), 's-allow')).some((t) => t.state === 'completed')) return true;
      clock.advance(100);
      return false;
    });
    await service.stop();
    await running;
    expect((await scheduledTasks(db(), 's-allow')).map((t) => [t.externalRef, t.state])).toEqual([['schedule:s-allow:2026-04-01T10:20:00.000Z', 'completed']]);
  });
});

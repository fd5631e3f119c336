/**
 * The full chaos run (`npm run test:chaos`): at least 300 tasks of the example runbooks, four
 * workers of which a random one is SIGKILLed every few hundred milliseconds (a replacement starts
 * at once), PostgreSQL restarted three times, random API faults. Passes with zero violations,
 * zero worker exits, at least 20 kills and 2 restarts, in under 10 minutes on a 2-core machine.
 * Prints the figures. RUNWARDEN_CHAOS_SEED repeats a run, RUNWARDEN_CHAOS_TASKS changes its size.
 */
import { describe, expect, it } from 'vitest';
import { available } from '../helpers/throwaway-pg.js';
import { formatReport, runChaos } from './harness.js';

const TEN_MINUTES = 600_000;

describe.runIf(available())('chaos (full)', () => {
  it('300 tasks through kills, restarts and faults: nothing lost, stuck or done twice', async () => {
    const report = await runChaos({
      tasks: Number(process.env.RUNWARDEN_CHAOS_TASKS ?? 300),
      workers: 4,
      concurrency: 6,
      lease: '2s',
      killEveryMs: [300, 900],
      pgRestarts: 3,
      pgDownMs: [500, 2500],
      faultRate: 0.08,
      timeoutMs: TEN_MINUTES - 120_000,
      drainMs: 60_000,
      ...(process.env.RUNWARDEN_CHAOS_SEED ? { seed: Number(process.env.RUNWARDEN_CHAOS_SEED) } : {}),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(report.violations, formatReport(report)).toEqual([]);
    expect(report.workerExits).toEqual([]);
    expect(report.tasks).toBeGreaterThanOrEqual(300);
    expect(report.kills).toBeGreaterThanOrEqual(20);
    expect(report.pgRestarts).toBeGreaterThanOrEqual(2);
    expect(report.durationMs).toBeLessThan(TEN_MINUTES);
  }, TEN_MINUTES);
});

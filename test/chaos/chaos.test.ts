/**
 * The chaos run, short (inside `npm test`): three workers killed every few hundred milliseconds,
 * PostgreSQL restarted twice, random API faults, 60 tasks of the example runbooks; zero
 * violations. `npm run test:chaos` runs the full one (full.chaos.ts). Runs the built CLI.
 */
import { describe, expect, it } from 'vitest';
import { available } from '../helpers/throwaway-pg.js';
import { formatReport, runChaos } from './harness.js';

describe.runIf(available())('chaos (short)', () => {
  it('loses no task, leaves none stuck, runs no once step twice, and no worker exits on its own', async () => {
    const report = await runChaos({
      tasks: 60,
      workers: 3,
      concurrency: 4,
      lease: '2s',
      killEveryMs: [400, 900],
      pgRestarts: 2,
      pgDownMs: [300, 1200],
      faultRate: 0.06,
      timeoutMs: 50_000,
      ...(process.env.RUNWARDEN_CHAOS_SEED ? { seed: Number(process.env.RUNWARDEN_CHAOS_SEED) } : {}),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(report.violations, formatReport(report)).toEqual([]);
    expect(report.workerExits).toEqual([]);
    expect(report.kills).toBeGreaterThan(0);
    expect(report.pgRestarts).toBe(2);
  }, 180_000);
});

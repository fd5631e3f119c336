/**
 * The bench suite, short: a few hundred tasks through every runwarden measurement on each
 * backend (no peers, no million-row table), so the suite keeps running as the code changes.
 * Its figures are not checked against thresholds (speed is read from bench runs, not tests);
 * what is checked is that each measurement happened and its record is complete.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSuite } from '../../bench/suite/index.js';
import type { Sample } from '../../bench/suite/common.js';
import { pgUp } from '../helpers/backends.js';

const dir = await mkdtemp(join(tmpdir(), 'rw-smoke-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('bench suite (smoke)', () => {
  it('measures every subject on each backend and appends complete JSON lines', { timeout: 240_000 }, async () => {
    const backends: Array<'postgres' | 'embedded'> = pgUp ? ['embedded', 'postgres'] : ['embedded'];
    const resultsFile = join(dir, 'smoke.jsonl');
    const samples = await runSuite({
      tasks: 120,
      rounds: 1,
      concurrency: [1, 4],
      backends,
      peers: false,
      scale: [300],
      rssQueued: 0,
      rawMs: 200,
      submits: 8,
      resultsFile,
      run: 'smoke',
      progress: () => undefined,
    });
    const lines = (await readFile(resultsFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Sample);
    expect(lines).toEqual(samples);
    const find = (backend: string, subject: string, metric: string, concurrency?: number) =>
      samples.filter((s) => s.backend === backend && s.subject === subject && s.metric === metric && (concurrency === undefined || s.concurrency === concurrency));
    for (const b of backends) {
      for (const c of [1, 4]) {
        for (const subject of ['rw-1step', 'rw-3step']) expect(find(b, subject, 'tasks_per_s', c)[0]?.value, `${b} ${subject} c${c}`).toBeGreaterThan(0);
        expect(find(b, 'raw', 'transitions_per_s', c)[0]?.value).toBeGreaterThan(0);
      }
      expect(find(b, 'overhead', 'p50_ms', 1)).toHaveLength(1);
      expect(find(b, 'submit-latency', 'p50_ms')[0]?.value).toBeGreaterThan(0);
      const claim = find(b, 'claim', 'p50_ms')[0];
      expect(claim?.detail).toMatchObject({ size: 300 });
      expect(String(claim?.detail?.plan)).toMatch(/tasks/);
      expect(String(find(b, 'list-escalated', 'p50_ms')[0]?.detail?.plan)).toMatch(/tasks/);
    }
  });
});

/**
 * A fake clock for tests: time moves only when the test says so, and is passed into SQL as a
 * parameter like the real one, so it works against a real database.
 */
import type { Clock } from '../../src/orchestrator/clock.js';

export interface FakeClock extends Clock {
  /** Moves time forward by `ms` and wakes the sleepers that are due. */
  advance(ms: number): void;
  /** Sets the time (forward only) and wakes the sleepers that are due. */
  set(at: Date): void;
}

/** A clock starting at `start` (default 2025-01-01T00:00:00Z). `sleep` resolves when advanced past. */
export function fakeClock(start: Date | string | number = '2025-01-01T00:00:00Z'): FakeClock {
  let t = new Date(start).getTime();
  const sleepers = new Set<{ until: number; wake: () => void }>();
  const wakeDue = () => {
    for (const s of [...sleepers]) if (s.until <= t) s.wake();
  };
  return {
    now: () => new Date(t),
    advance(ms) {
      if (ms < 0) throw new Error('a fake clock does not go back');
      t += ms;
      wakeDue();
    },
    set(at) {
      const next = at.getTime();
      if (next < t) throw new Error('a fake clock does not go back');
      t = next;
      wakeDue();
    },
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted || ms <= 0) return resolve();
        const s = {
          until: t + ms,
          wake: () => {
            sleepers.delete(s);
            signal?.removeEventListener('abort', s.wake);
            resolve();
          },
        };
        sleepers.add(s);
        signal?.addEventListener('abort', s.wake, { once: true });
      });
    },
  };
}

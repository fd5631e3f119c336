import { describe, expect, it } from 'vitest';
import { isRunwardenError } from '../errors.js';
import { formatDuration, parseDuration, tryParseDuration } from './duration.js';
import { closest, editDistance } from './suggest.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['0s', 0],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 's', '1.5s', '-1s', '10 s', '1h30m', '10S', '010s', '5w', ' 5s', '99999999999999999d'])('refuses %j', (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    let err: unknown;
    try {
      parseDuration(text);
    } catch (e) {
      err = e;
    }
    expect(isRunwardenError(err) && err.code).toBe('RUNBOOK_INVALID');
    expect((err as Error).message).toContain(JSON.stringify(text));
    expect((err as Error).message).toContain('500ms, 10s, 2m, 1h or 1d');
  });

  it('formats in the largest whole unit', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0ms');
  });
});

describe('suggestions', () => {
  it('counts an adjacent swap as one edit', () => {
    expect(editDistance('repaet', 'repeat')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('offers the closest candidate only when it is a plausible typo', () => {
    expect(closest('reapeat', ['repeat', 'retry', 'route'])).toBe('repeat');
    expect(closest('timout', ['timeout', 'title'])).toBe('timeout');
    expect(closest('xyz', ['repeat', 'retry'])).toBeUndefined();
    expect(closest('repeat', ['repeat'])).toBeUndefined();
  });
});

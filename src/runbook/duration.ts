/**
 * Durations as runbooks write them (runbook-format.md, "Durations"): a whole number and one unit,
 * `500ms`, `10s`, `2m`, `1h`, `1d`. One unit only: `1h30m` is refused rather than guessed at, so
 * a reviewer reads every duration the way the executor does.
 */
import { RunwardenError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The accepted form, also used as the JSON Schema `pattern` of duration fields. */
export const DURATION_PATTERN = /^(0|[1-9][0-9]*)(ms|s|m|h|d)$/;

/** What an accepted duration looks like, for error messages and field descriptions. */
export const DURATION_HINT = 'a whole number and a unit: 500ms, 10s, 2m, 1h or 1d';

/** Milliseconds of a duration string, or `undefined` when it is not one. */
export function tryParseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Milliseconds of a duration string. Throws `RUNBOOK_INVALID` naming what was received. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new RunwardenError('RUNBOOK_INVALID', `invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}`);
  }
  return ms;
}

/** Formats milliseconds in the largest unit that divides them (`90000` -> `90s`, `120000` -> `2m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

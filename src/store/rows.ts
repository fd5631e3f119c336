/** Small helpers the row mappers share (snake_case rows to camelCase types). */

/** A timestamp column as a Date (drivers return Date; a string is tolerated), null kept. */
export function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

/** A nullable integer column as a number. */
export function toNumberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

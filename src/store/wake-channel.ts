/** The wake-up channel (orchestrator/wake.ts says what is sent on it). */
export const WAKE_CHANNEL = 'runwarden_tasks';

/** The payload announcing timed work due at `at`: idle workers sleep until then at most. */
export function duePayload(at: Date): string {
  return `due:${at.getTime()}`;
}

/** The time a `due:` payload names, or undefined for any other payload (a task id). */
export function dueOf(payload: string): number | undefined {
  if (!payload.startsWith('due:')) return undefined;
  const ms = Number(payload.slice(4));
  return Number.isFinite(ms) ? ms : undefined;
}

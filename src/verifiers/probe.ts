/**
 * Probes: before any replay of a `once` step, did the first try take effect? `present` means
 * yes (take the captures and go on), `absent` means no (safe to try again), anything else,
 * including both or neither matching, or no answer, is `unknown` and goes to a person.
 */
import type { ExprContext, Probe } from '../runbook/plan.js';
import { httpStatusClass, type RawOutcome } from '../orchestrator/outcome.js';
import { observe } from '../orchestrator/observe.js';

export type ProbeVerdict =
  | { verdict: 'present'; captures: Record<string, unknown>; observed: unknown }
  | { verdict: 'absent'; observed: unknown }
  | { verdict: 'unknown'; observed: unknown; problem: string };

export function evaluateProbe(probe: Probe, raw: RawOutcome, ctx: ExprContext): ProbeVerdict {
  if (raw.kind === 'error') return { verdict: 'unknown', observed: { error: raw.message }, problem: raw.message };
  const observed = observe(raw.result);
  const status = (raw.result as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && httpStatusClass(status)) {
    return { verdict: 'unknown', observed, problem: `the probe itself failed with HTTP ${status}` };
  }
  const withResult = { ...ctx, result: raw.result };
  try {
    const present = probe.present.test(withResult);
    const absent = probe.absent.test(withResult);
    if (present && !absent) {
      const captures: Record<string, unknown> = {};
      for (const [name, e] of Object.entries(probe.capture)) captures[name] = e.evaluate(withResult);
      return { verdict: 'present', captures, observed };
    }
    if (absent && !present) return { verdict: 'absent', observed };
    return { verdict: 'unknown', observed, problem: present ? 'both present and absent matched' : 'neither present nor absent matched' };
  } catch (err) {
    return { verdict: 'unknown', observed, problem: `probe could not be evaluated: ${(err as Error).message}` };
  }
}

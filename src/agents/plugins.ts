/**
 * Plugin actions: TypeScript actions a deployment registers, each with a zod schema for `with`.
 * A runbook step whose `action` is not built in names one of these.
 */
import type { z } from 'zod';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { ExecuteContext } from './executor.js';

export interface PluginAction<S extends z.ZodType = z.ZodType> {
  /** Validates the rendered `with`. */
  schema: S;
  /** Whether the action changes something outside (then the step needs `repeat`). Default true. */
  changes?: boolean;
  /** Runs it. Return `{ kind: 'result', result }` or `{ kind: 'error', ... }`; a throw is `internal`. */
  run(input: z.infer<S>, ctx: ExecuteContext & { idempotencyKey: string | null }): Promise<RawOutcome>;
}

export type PluginRegistry = Map<string, PluginAction>;

export function pluginRegistry(entries: Record<string, PluginAction> = {}): PluginRegistry {
  return new Map(Object.entries(entries));
}

/**
 * Plugin actions: TypeScript actions a deployment registers, each with a zod schema for `with`.
 * A runbook step whose `action` is not built in names one of these.
 */
import type { z } from 'zod';
import type { PluginSpec } from '../runbook/action-schema.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { ExecuteContext } from './executor.js';

/**
 * A plugin action. It is also the loader's `PluginSpec`, so one registry both validates runbooks
 * at load and runs their steps.
 */
export interface PluginAction<S extends z.ZodType = z.ZodType> extends PluginSpec {
  /** Validates the rendered `with`. */
  schema: S;
  /** Runs it. Return `{ kind: 'result', result }` or `{ kind: 'error', ... }`; a throw is `internal`. */
  run(input: z.infer<S>, ctx: ExecuteContext & { idempotencyKey: string | null }): Promise<RawOutcome>;
}

/** The deployment's plugin actions by name; pass the same map to the runbook loader. */
export type PluginActions = Map<string, PluginAction>;

export function pluginActions(entries: Record<string, PluginAction> = {}): PluginActions {
  return new Map(Object.entries(entries));
}

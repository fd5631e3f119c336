/** The execution role: the built-in actions, plugins and the decision agent behind one executor. */
import type { ActionSpec } from '../runbook/plan.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { DecisionAgent } from './decision-agent.js';
import type { ExecuteContext, Executor } from './executor.js';
import { runDecide } from './decide-action.js';
import { runExec } from './exec-action.js';
import { runHttp } from './http-action.js';
import type { PluginActions } from './plugins.js';
import { renderTree } from './render.js';

export type { ExecuteContext, Executor } from './executor.js';
export type { DecisionAgent, DecisionProposal, DecisionRequest, TokenUse } from './decision-agent.js';
export { ModelCallError, isModelCallError } from './decision-agent.js';
export { OpenAIDecisionAgent, agentFromEnv } from './openai-decision-agent.js';
export { LLM_DEFAULTS, createChatModel, llmSettingsFromEnv, maxCallsFromEnv, type LlmSettings } from './llm-config.js';
export { adviseWhy, advisorFromEnv, type Advisor } from './advisor.js';
export type { PluginAction, PluginActions } from './plugins.js';
export { pluginActions } from './plugins.js';

/**
 * One executor for every action. `agent` runs `decide` steps; without one (no model configured)
 * a `decide` step reports `NO_MODEL` and takes its `fallback`.
 */
export function createExecutor(opts: { plugins?: PluginActions; agent?: DecisionAgent | null } = {}): Executor {
  return {
    async run(spec: ActionSpec, ctx: ExecuteContext): Promise<RawOutcome> {
      try {
        switch (spec.action) {
          case 'http':
            return await runHttp(spec.with, ctx);
          case 'exec':
            return await runExec(spec.with, ctx);
          case 'plugin':
            return await runPlugin(spec.plugin, spec.with.tree, ctx, opts.plugins);
          case 'decide':
            return await runDecide(spec.with, ctx, opts.agent ?? null);
          default:
            return { kind: 'error', failureClass: 'internal', message: `${spec.action} is not an executable action`, maybeApplied: false };
        }
      } catch (err) {
        return { kind: 'error', failureClass: 'internal', message: `executor bug: ${(err as Error).message}`, maybeApplied: true };
      }
    },
  };
}

async function runPlugin(name: string, tree: Parameters<typeof renderTree>[0], ctx: ExecuteContext, plugins?: PluginActions): Promise<RawOutcome> {
  const plugin = plugins?.get(name);
  if (!plugin) return { kind: 'error', failureClass: 'internal', message: `no plugin action named ${name} is registered`, maybeApplied: false };
  const parsed = plugin.schema.safeParse(renderTree(tree, ctx.expr));
  if (!parsed.success) {
    return { kind: 'error', failureClass: 'invalid_input', message: `${name}: with is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, maybeApplied: false };
  }
  return plugin.run(parsed.data, { ...ctx, idempotencyKey: ctx.attempt.idempotencyKey });
}

/** The execution role: the built-in actions, plugins and the decision agent behind one executor. */
import type { ActionSpec } from '../runbook/plan.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import type { DecisionAgent } from './decision-agent.js';
import type { ExecuteContext, Executor } from './executor.js';
import { runExec } from './exec-action.js';
import { runHttp } from './http-action.js';
import type { PluginActions } from './plugins.js';
import { renderTree } from './render.js';

export type { ExecuteContext, Executor } from './executor.js';
export type { DecisionAgent, DecisionProposal, DecisionRequest } from './decision-agent.js';
export type { PluginAction, PluginActions } from './plugins.js';
export { pluginActions } from './plugins.js';

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

async function runDecide(w: Extract<ActionSpec, { action: 'decide' }>['with'], ctx: ExecuteContext, agent: DecisionAgent | null): Promise<RawOutcome> {
  if (!agent) return { kind: 'error', code: 'NO_MODEL', message: 'no model configured', maybeApplied: false };
  const shown: Record<string, unknown> = {};
  for (const e of w.show) shown[e.source] = e.evaluate(ctx.expr);
  const offered = (ctx.step.spec.action === 'decide' ? w.options : []).filter((o) => {
    try {
      return !o.when || o.when.test(ctx.expr);
    } catch {
      return false;
    }
  });
  const proposal = await agent.propose({
    taskId: ctx.expr.task.id,
    step: ctx.step.id,
    question: w.question,
    shown,
    options: offered.map((o) => ({ id: o.id, ...(o.goto ? { goto: o.goto } : {}), escalate: o.escalate })),
    signal: ctx.signal,
    ...(ctx.timeoutMs !== undefined ? { timeoutMs: ctx.timeoutMs } : {}),
  });
  return { kind: 'result', result: proposal };
}

/**
 * The decision agent over any OpenAI-compatible Chat Completions endpoint, through langchain.
 * It sends only what the request carries (the executor has already cut it to the step's `show`
 * and masked secrets), asks for an answer through one forced function call, and reports the
 * answer, latency and token use. It never judges the answer: the orchestrator's guard does.
 */
import type { ChatOpenAICompletions } from '@langchain/openai';
import { ModelCallError, type DecisionAgent, type DecisionProposal, type DecisionRequest, type TokenUse } from './decision-agent.js';
import { readDecisionAnswer } from './decision-answer.js';
import { DECISION_INSTRUCTIONS, DECISION_TOOL_NAME, decisionMessage, decisionTool } from './decision-prompt.js';
import { createChatModel, llmSettingsFromEnv, type LlmSettings } from './llm-config.js';

export class OpenAIDecisionAgent implements DecisionAgent {
  readonly model: string;
  private chat: Promise<ChatOpenAICompletions> | undefined;

  constructor(private readonly settings: LlmSettings) {
    this.model = settings.model;
  }

  async propose(req: DecisionRequest): Promise<DecisionProposal> {
    this.chat ??= createChatModel(this.settings);
    const chat = await this.chat;
    const { HumanMessage, SystemMessage } = await import('@langchain/core/messages');
    // Forced: the model answers through the decision function (an endpoint that ignores
    // tool_choice may answer in text, which is read as JSON).
    const bound = chat.bindTools([decisionTool(req.options.map((o) => o.id))], { tool_choice: DECISION_TOOL_NAME });
    const started = performance.now();
    let msg: Awaited<ReturnType<typeof bound.invoke>>;
    try {
      msg = await bound.invoke([new SystemMessage(DECISION_INSTRUCTIONS), new HumanMessage(decisionMessage(req))], { signal: req.signal });
    } catch (err) {
      // An abort is the executor's to name (timeout or worker stopping): let it through as is.
      if (req.signal.aborted) throw err;
      throw new ModelCallError(`model ${this.model}: ${(err as Error).message}`, this.model, statusOf(err), Math.round(performance.now() - started), { cause: err });
    }
    const latencyMs = Math.round(performance.now() - started);
    const base = { model: this.model, latencyMs, ...tokensOf(msg.usage_metadata) };
    const answer = readDecisionAnswer(msg);
    if (!answer.ok) return { option: '', rationale: '', confidence: Number.NaN, problem: answer.problem, raw: answer.raw, ...base };
    return { option: answer.option, rationale: answer.rationale, confidence: answer.confidence, ...base };
  }
}

/**
 * The decision agent the environment configures, or null when `RUNWARDEN_LLM_MODEL` is unset
 * (then `decide` steps take their `fallback`). Endpoint: `OPENAI_BASE_URL` (default OpenAI's),
 * key: `OPENAI_API_KEY`; timeout, retries and streaming as `createChatModel` sets them. Throws
 * `CONFIG_INVALID` for settings that cannot work, so a worker fails at start, not mid-task.
 * Note: langchain honours the LangSmith tracing variables; leave them unset, or prompts are
 * traced to LangSmith.
 */
export function agentFromEnv(env: NodeJS.ProcessEnv = process.env): DecisionAgent | null {
  const settings = llmSettingsFromEnv(env);
  return settings ? new OpenAIDecisionAgent(settings) : null;
}

/** Token use from langchain's `usage_metadata`, as `{ tokens }`, or `{}` when the endpoint reported none. */
export function tokensOf(usage: { input_tokens?: number; output_tokens?: number } | undefined): { tokens?: TokenUse } {
  if (!usage) return {};
  const tokens: TokenUse = {};
  if (typeof usage.input_tokens === 'number') tokens.input = usage.input_tokens;
  if (typeof usage.output_tokens === 'number') tokens.output = usage.output_tokens;
  return Object.keys(tokens).length ? { tokens } : {};
}

/** The HTTP status of an OpenAI client error, when the endpoint answered at all. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * Model settings from the environment (interfaces.md, "Agents (LLM)") and the one chat model
 * every agent role uses. Agent roles are on only when `RUNWARDEN_LLM_MODEL` is set.
 */
import type { ChatOpenAICompletions } from '@langchain/openai';
import { RunwardenError } from '../errors.js';
import { DEFAULT_TIMEOUT_MS } from './executor.js';

export interface LlmSettings {
  /** `RUNWARDEN_LLM_MODEL`. */
  model: string;
  /** `OPENAI_BASE_URL`; default `https://api.openai.com/v1`. */
  baseURL: string;
  /** `OPENAI_API_KEY`; may be left out for a local endpoint that needs none. */
  apiKey: string;
  /** Longest any one model call may take, whatever the step allows. Default 30s. */
  timeoutMs: number;
  /** Retries inside one call. Default 0: the step's retry policy owns retries (see below). */
  maxRetries: number;
  /** Model calls one task may make in all (`RUNWARDEN_LLM_MAX_CALLS`). Default 10. */
  maxCalls: number;
}

export const LLM_DEFAULTS = {
  baseURL: 'https://api.openai.com/v1',
  timeoutMs: DEFAULT_TIMEOUT_MS,
  // Retrying inside the client would hide calls from the ledger, stretch a call past the step's
  // timeout and count against nothing; a failed call is an attempt the retry policy can see.
  maxRetries: 0,
  maxCalls: 10,
} as const;

/** Sent as the key to endpoints that need none: the OpenAI client refuses to start without one. */
const NO_KEY = 'no-key';

/**
 * Reads the model settings, or null when `RUNWARDEN_LLM_MODEL` is unset or empty (agents off).
 * Throws `CONFIG_INVALID` for a key-less OpenAI endpoint or a bad `RUNWARDEN_LLM_MAX_CALLS`.
 */
export function llmSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LlmSettings | null {
  const model = env.RUNWARDEN_LLM_MODEL?.trim();
  if (!model) return null;
  const baseURL = env.OPENAI_BASE_URL?.trim() || LLM_DEFAULTS.baseURL;
  const apiKey = env.OPENAI_API_KEY?.trim();
  if (!apiKey && !env.OPENAI_BASE_URL?.trim()) {
    throw new RunwardenError('CONFIG_INVALID', `RUNWARDEN_LLM_MODEL is set (${model}) but OPENAI_API_KEY is not: the OpenAI API needs a key; set OPENAI_BASE_URL for a local endpoint without one`);
  }
  return { model, baseURL, apiKey: apiKey || NO_KEY, timeoutMs: LLM_DEFAULTS.timeoutMs, maxRetries: LLM_DEFAULTS.maxRetries, maxCalls: maxCallsFromEnv(env) };
}

/** `RUNWARDEN_LLM_MAX_CALLS`, a whole number of at least 1; default 10. */
export function maxCallsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.RUNWARDEN_LLM_MAX_CALLS?.trim();
  if (!raw) return LLM_DEFAULTS.maxCalls;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new RunwardenError('CONFIG_INVALID', `RUNWARDEN_LLM_MAX_CALLS must be a whole number of at least 1, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * The chat model for agent roles: the Chat Completions API (what every OpenAI-compatible
 * endpoint serves; `ChatOpenAI` would switch some model names to the Responses API), no
 * streaming, explicit timeout and retries, temperature 0 for repeatable choices. langchain is
 * loaded here, on first use, so commands that never call a model do not pay for loading it.
 */
export async function createChatModel(s: LlmSettings): Promise<ChatOpenAICompletions> {
  const { ChatOpenAICompletions } = await import('@langchain/openai');
  return new ChatOpenAICompletions({
    model: s.model,
    apiKey: s.apiKey,
    // Always explicit: left undefined, langchain would take the base URL from other environment
    // variables (a LangSmith gateway) and the shown data would go somewhere nobody configured.
    configuration: { baseURL: s.baseURL },
    temperature: 0,
    timeout: s.timeoutMs,
    maxRetries: s.maxRetries,
    // Streaming would estimate token counts with tiktoken, which downloads its tables: no
    // network beyond the configured endpoint, and usage comes from the endpoint's answer.
    streaming: false,
  });
}

/**
 * msw standing in for an OpenAI-compatible endpoint. Only that third-party API is intercepted:
 * requests to loopback (the simulated operations API) pass through, and any other request is
 * an error, so a test can never reach a real model.
 */
import { http, HttpResponse, type HttpResponseResolver } from 'msw';
import { setupServer, type SetupServer } from 'msw/node';

export const LLM_BASE_URL = 'https://llm.test/v1';
export const LLM_MODEL = 'test-model-1';
export const LLM_API_KEY = 'sk-test-3b9f2c71e4a8';

/** The environment that turns agents on against the mock. */
export const LLM_ENV = { RUNWARDEN_LLM_MODEL: LLM_MODEL, OPENAI_BASE_URL: LLM_BASE_URL, OPENAI_API_KEY: LLM_API_KEY };

/** The parts of a Chat Completions request the tests look at. */
export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  tools?: { type: string; function: { name: string; parameters: { properties: { option: { enum: string[] } } } } }[];
  tool_choice?: unknown;
  stream?: boolean;
}

export interface OpenAIMock {
  server: SetupServer;
  /** Every request the mock received, oldest first. */
  requests: ChatRequest[];
  /** Answers the next requests with `resolver` (the last one set wins). */
  answer(resolver: (req: ChatRequest, signal: AbortSignal) => Response | Promise<Response>): void;
}

export function openaiMock(): OpenAIMock {
  const requests: ChatRequest[] = [];
  const server = setupServer();
  const mock: OpenAIMock = {
    server,
    requests,
    answer(resolver) {
      const handle: HttpResponseResolver = async ({ request }) => {
        const body = (await request.json()) as ChatRequest;
        requests.push(body);
        return resolver(body, request.signal);
      };
      server.use(http.post(`${LLM_BASE_URL}/chat/completions`, handle));
    },
  };
  return mock;
}

/** Lets loopback through (the simulated API) and fails on anything else nobody mocked. */
export function listenOptions() {
  return {
    onUnhandledRequest(request: Request, print: { error(): void }) {
      const host = new URL(request.url).hostname;
      if (host === '127.0.0.1' || host === 'localhost' || host === '[::1]') return;
      print.error();
    },
  };
}

const usage = { prompt_tokens: 180, completion_tokens: 24, total_tokens: 204 };

function completion(message: Record<string, unknown>, finish: string) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: LLM_MODEL,
    choices: [{ index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finish }],
    usage,
  };
}

/** An answer through function calls; `args` as an object, or a string sent as it is. */
export function toolCalls(...calls: { name?: string; args: Record<string, unknown> | string }[]): Response {
  return HttpResponse.json(
    completion(
      {
        content: null,
        tool_calls: calls.map((c, i) => ({
          id: `call_${i}`,
          type: 'function',
          function: { name: c.name ?? 'choose_option', arguments: typeof c.args === 'string' ? c.args : JSON.stringify(c.args) },
        })),
      },
      'tool_calls',
    ),
  );
}

/** A decision through the decision function. */
export function choice(option: string, confidence: number, rationale = 'the health check says degraded'): Response {
  return toolCalls({ args: { option, rationale, confidence } });
}

/** An answer in the message text (an endpoint without function calling). */
export function textAnswer(content: string): Response {
  return HttpResponse.json(completion({ content }, 'stop'));
}

/** An OpenAI-shaped error. */
export function apiError(status: number, message = 'upstream failure'): Response {
  return HttpResponse.json({ error: { message, type: 'server_error', code: null } }, { status });
}

/** Never answers: resolves only once the caller gives up (its abort reaches the handler). */
export function hang(signal: AbortSignal): Promise<Response> {
  return new Promise((resolve) => {
    const done = () => resolve(HttpResponse.error());
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

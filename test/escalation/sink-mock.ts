/**
 * The third-party endpoints packets go to (a webhook receiver, PagerDuty's Events API, a Slack
 * incoming webhook), mocked with msw. Every request is recorded raw (headers and body text, so a
 * signature can be checked over the exact bytes); any request nobody mocked is recorded as
 * unhandled and fails the test that made it.
 */
import { http, HttpResponse } from 'msw';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { setupServer, type SetupServer } from 'msw/node';
import { PAGERDUTY_EVENTS_URL } from '../../src/config/schema.js';
import { deploymentConfig, type DeploymentConfig } from '../../src/config/index.js';

export const WEBHOOK_URL = 'https://hooks.example.test/runwarden';
/** `whsec_` + base64 of the 24-byte key. */
export const WEBHOOK_SECRET = `whsec_${Buffer.from('0123456789abcdefghijklmn').toString('base64')}`;
export const PD_ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefabcdef';
export const SLACK_URL = 'https://hooks.slack.test/services/T000/B000/XXXXsecretXXXX';

export const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface Recorded {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface SinkMock {
  server: SetupServer;
  requests: Recorded[];
  unhandled: string[];
  /** Answers requests to `url` with the statuses in turn (the last one repeats). Default 200/202. */
  answer(url: string, ...answers: Array<number | (() => Response | Promise<Response>)>): void;
  to(url: string): Recorded[];
  /** Forgets the requests and the answers set (back to the defaults). */
  reset(): void;
}

const DEFAULT_OK: Record<string, () => Response> = {
  [PAGERDUTY_EVENTS_URL]: () => HttpResponse.json({ status: 'success', message: 'Event processed', dedup_key: 'x' }, { status: 202 }),
  [SLACK_URL]: () => new HttpResponse('ok', { status: 200, headers: { 'content-type': 'text/plain' } }),
  [WEBHOOK_URL]: () => new HttpResponse(null, { status: 204 }),
};

export function sinkMock(): SinkMock {
  const requests: Recorded[] = [];
  const unhandled: string[] = [];
  const server = setupServer();
  server.events.on('request:unhandled', ({ request }) => {
    // Loopback is the simulated operations API: a real server, let through by the tests using it.
    if (LOOPBACK.has(new URL(request.url).hostname)) return;
    unhandled.push(`${request.method} ${request.url}`);
  });
  const mock: SinkMock = {
    server,
    requests,
    unhandled,
    answer(url, ...answers) {
      let n = 0;
      server.use(
        http.post(url, async ({ request }) => {
          requests.push({ url, headers: Object.fromEntries(request.headers.entries()), body: await request.text() });
          const a = answers.length ? answers[Math.min(n, answers.length - 1)]! : DEFAULT_OK[url]!;
          n += 1;
          if (typeof a === 'function') return a();
          return a >= 200 && a < 300 ? DEFAULT_OK[url]!() : new HttpResponse(`{"error":"status ${a}"}`, { status: a, headers: { 'content-type': 'application/json' } });
        }),
      );
    },
    to: (url) => requests.filter((r) => r.url === url),
    reset() {
      requests.length = 0;
      unhandled.length = 0;
      server.resetHandlers();
      for (const url of Object.keys(DEFAULT_OK)) mock.answer(url);
    },
  };
  for (const url of Object.keys(DEFAULT_OK)) mock.answer(url);
  return mock;
}

/** A deployment config with one sink of each type (all on the `default` route); `archive` writes to `filePath`. */
export function sinkConfig(filePath: string, o: { routes?: Record<string, string[]>; secrets?: Record<string, string> } = {}): DeploymentConfig {
  const routes = o.routes ?? { default: ['hook', 'pager', 'chat', 'archive'] };
  return deploymentConfig({
    secrets: o.secrets ?? {},
    sinks: {
      hook: { name: 'hook', type: 'webhook', url: WEBHOOK_URL, secret: WEBHOOK_SECRET },
      pager: { name: 'pager', type: 'pagerduty', routingKey: PD_ROUTING_KEY, url: PAGERDUTY_EVENTS_URL },
      chat: { name: 'chat', type: 'slack', url: SLACK_URL },
      archive: { name: 'archive', type: 'file', path: filePath },
    },
    routes,
  });
}

/**
 * The mock for a test file: listening from beforeAll with loopback let through (the simulated
 * operations API is a real local server), reset before each test, and no request left unhandled
 * after it.
 */
export function useSinkMock(): SinkMock {
  const mock = sinkMock();
  beforeAll(() =>
    mock.server.listen({
      onUnhandledRequest(request, print) {
        if (LOOPBACK.has(new URL(request.url).hostname)) return;
        print.error();
      },
    }),
  );
  afterAll(() => mock.server.close());
  beforeEach(() => mock.reset());
  afterEach(() => expect(mock.unhandled).toEqual([]));
  return mock;
}

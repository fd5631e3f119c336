/**
 * When an HTTP request actually went out. `fetch` (undici) publishes the life of each request on
 * `diagnostics_channel`: `undici:request:create` when it is created, inside the caller's async
 * context, and `undici:client:sendHeaders` when its headers are written to the socket. The step
 * timeout starts then, and a request that fails or times out before it is known not to have
 * reached the other side.
 *
 * Why not time the `fetch` call: what runs before the request is written (a connection to
 * open, a free connection to wait for, a busy event loop) is runwarden's, not the action's. A
 * `once` step that timed out there was reported as possibly applied and escalated, for a
 * request that never left the process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';

/** What is known of one call's request(s) (a redirect makes another request: the first write counts). */
export interface SendTracker {
  /** undici reported the request: `sent` can be trusted (false means "not written yet"). */
  tracked: boolean;
  /** Its headers have been written to the socket. */
  sent: boolean;
  /** Called once, when the headers are first written. */
  onSent?: () => void;
}

const current = new AsyncLocalStorage<SendTracker>();
const byRequest = new WeakMap<object, SendTracker>();
let subscribed = false;

function listen(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('undici:request:create', (m) => {
    const t = current.getStore();
    const request = (m as { request?: object }).request;
    if (!t || !request) return;
    t.tracked = true;
    byRequest.set(request, t);
  });
  subscribe('undici:client:sendHeaders', (m) => {
    const request = (m as { request?: object }).request;
    const t = request ? byRequest.get(request) : undefined;
    if (!t || t.sent) return;
    t.sent = true;
    t.onSent?.();
  });
}

/** Runs `fn` (which calls `fetch`) with its requests reported to `tracker`. */
export function trackSend<T>(tracker: SendTracker, fn: () => Promise<T>): Promise<T> {
  listen();
  return current.run(tracker, fn);
}

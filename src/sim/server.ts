/**
 * The simulated operations API as a real HTTP server on loopback (docs/simulated-api.md). Plain
 * `node:http` rather than fastify: scripting a lost response needs the raw socket, and a test
 * double should add no behaviour of its own (no body limits, no content-type rules).
 *
 * Each request: read and record it; control routes (`/_sim/*`, never authenticated, never
 * faulted) drive the simulation; otherwise check the bearer token, apply the first matching
 * fault, replay or handle it, and answer.
 */
import { EventEmitter } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { onControl, send, type ControlState } from './control.js';
import { FaultBook } from './faults.js';
import {
  StateInputSchema,
  type Effect,
  type EntitlementInput,
  type Fault,
  type RequestRecord,
  type ResolvedFault,
  type ServiceState,
  type StateInput,
} from './model.js';
import { Operations, type OpsResponse } from './operations.js';

export interface SimOptions {
  /** Port to listen on; default 0 (a free one). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Expected bearer token (`Authorization: Bearer <token>`); default unset, no auth. */
  token?: string;
  /** Clock for the `at` of effects and requests; default the system clock. */
  now?: () => Date;
}

export interface Sim {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Scripts a fault (as `POST /_sim/faults`); throws the ZodError when it is malformed. */
  fault(f: Fault): void;
  setService(name: string, s: ServiceState): void;
  setEntitlement(customer: string, e: EntitlementInput): void;
  /** Merges state as `POST /_sim/state` does (services, entitlements, token, provisioning). */
  setState(s: StateInput): void;
  /** Applied effects, in order (copies). */
  effects(): Effect[];
  /** Every request seen outside `/_sim/`, in order (copies, headers raw). */
  requests(): RequestRecord[];
  /** Number of applied effects of a kind, e.g. `count('service.restart')`. */
  count(kind: string): number;
  /** Clears effects, requests, faults, idempotency keys and state; the token returns to its option. */
  reset(): void;
  /**
   * Emits `request` (a `RequestRecord`) when an API request arrives, before it is handled,
   * `effect` (an `Effect`) when it applied one, and `settled` once it was answered, dropped or
   * aborted: tests wait on these instead of sleeping.
   */
  readonly events: EventEmitter<SimEvents>;
  /** Stops listening and destroys open connections, including requests held by a delay. */
  close(): Promise<void>;
}

export interface SimEvents {
  request: [RequestRecord];
  /** An effect was applied (before the answer goes out, or is held or dropped). */
  effect: [Effect];
  settled: [RequestRecord];
}

interface Stored {
  status: number;
  body: unknown;
}

/** Starts the simulated API; resolves once it is listening. */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const now = opts.now ?? (() => new Date());
  const ops = new Operations();
  const faults = new FaultBook();
  let effects: Effect[] = [];
  let requests: RequestRecord[] = [];
  // First answer per `METHOD path key`, replayed for a repeated Idempotency-Key.
  let replays = new Map<string, Stored>();
  let token: string | undefined = opts.token;
  const sockets = new Set<Socket>();
  const waiting = new Set<() => void>();
  const events = new EventEmitter<SimEvents>();

  function settle(record: RequestRecord, outcome: RequestRecord['outcome'], status: number | null): void {
    record.outcome = outcome;
    record.status = status;
    events.emit('settled', structuredClone(record));
  }

  function reset(): void {
    ops.reset();
    faults.clear();
    effects = [];
    requests = [];
    replays = new Map();
    token = opts.token;
  }

  function setState(input: StateInput): void {
    const s = StateInputSchema.parse(input);
    ops.apply(s);
    if (s.token !== undefined) token = s.token ?? undefined;
  }

  /** Waits `ms`; resolves false if the client goes away first or the server closes. */
  function delay(ms: number, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        res.off('close', onClose);
        waiting.delete(onClose);
        resolve(ok);
      };
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(true), ms);
      res.on('close', onClose);
      waiting.add(onClose);
    });
  }

  function scripted(f: ResolvedFault, record: RequestRecord): { status: number; body: unknown; headers: Record<string, string> } {
    const status = f.status ?? 400;
    const headers: Record<string, string> = f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {};
    let body = f.body ?? { error: STATUS_CODES[status] ?? 'scripted fault' };
    if (f.echoHeaders) {
      // Real APIs echo what they received in error bodies; runwarden has to mask it afterwards.
      const base = typeof body === 'object' && body !== null && !Array.isArray(body) ? body : { error: body };
      body = { ...base, received: { method: record.method, path: record.path, headers: record.headers, body: record.body } };
    }
    return { status, body, headers };
  }

  /** Handles an API request, replaying the first answer for a repeated Idempotency-Key. */
  function dispatch(record: RequestRecord, key: string | undefined): OpsResponse {
    const slot = key !== undefined && ops.keyed(record.method, record.path) ? `${record.method} ${record.path} ${key}` : undefined;
    const prior = slot === undefined ? undefined : replays.get(slot);
    if (prior) {
      record.replayed = true;
      return { status: prior.status, body: structuredClone(prior.body) };
    }
    const out = ops.handle(record);
    if (out.effect) {
      const effect: Effect = {
        seq: effects.length + 1,
        at: now().toISOString(),
        kind: out.effect.kind,
        method: record.method,
        path: record.path,
        ...(key !== undefined ? { idempotencyKey: key } : {}),
        ...(out.effect.id !== undefined ? { id: out.effect.id } : {}),
        body: structuredClone(record.body),
      };
      effects.push(effect);
      events.emit('effect', structuredClone(effect));
      // Only answers that applied something are kept: a 400 or 404 is retried afresh, as most APIs do.
      if (slot !== undefined) replays.set(slot, { status: out.status, body: structuredClone(out.body) });
    }
    return out;
  }

  async function onApiRequest(req: IncomingMessage, res: ServerResponse, record: RequestRecord): Promise<void> {
    const answer = (status: number, body: unknown, headers?: Record<string, string>): void => {
      if (res.destroyed) return settle(record, 'aborted', null);
      send(res, status, body, headers);
      settle(record, 'answered', status);
    };
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      return answer(401, { error: 'unauthorized' });
    }
    const fault = faults.take(record.method, record.path);
    if (fault) record.faulted = true;
    if (fault && fault.delayMs > 0 && !(await delay(fault.delayMs, res))) {
      return settle(record, 'aborted', null);
    }
    if (fault && (fault.status !== undefined || fault.echoHeaders)) {
      const s = scripted(fault, record);
      return answer(s.status, s.body, s.headers);
    }
    const header = req.headers['idempotency-key'];
    const out = dispatch(record, Array.isArray(header) ? header[0] : header);
    if (fault && fault.holdAfterEffectMs > 0 && !(await delay(fault.holdAfterEffectMs, res))) {
      // The effect is applied and the client went away before the answer.
      return settle(record, 'aborted', null);
    }
    if (fault?.dropAfterEffect) {
      // The effect is applied; the answer is lost on the way back.
      req.socket.destroy();
      return settle(record, 'dropped', null);
    }
    answer(out.status, out.body);
  }

  const control: ControlState = {
    effects: () => effects,
    requests: () => requests,
    faults,
    snapshot: () => ({ token: token ?? null, ...ops.snapshot() }),
    setState,
    reset,
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = (req.method ?? 'GET').toUpperCase();
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let badJson = false;
    try {
      body = text.trim() === '' ? undefined : JSON.parse(text);
    } catch {
      badJson = true;
      body = text;
    }
    if (url.pathname.startsWith('/_sim/')) {
      if (badJson) return send(res, 400, { error: 'invalid JSON' });
      return onControl(control, { method, path: url.pathname, query: url.searchParams, body }, res);
    }
    const record: RequestRecord = {
      seq: requests.length + 1,
      at: now().toISOString(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      status: null,
      outcome: 'pending',
    };
    requests.push(record);
    events.emit('request', structuredClone(record));
    if (badJson) {
      send(res, 400, { error: 'invalid JSON' });
      return settle(record, 'answered', 400);
    }
    await onApiRequest(req, res, record);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      // A bug in the double must show up in the test that hit it, not hang it.
      send(res, 500, { error: 'simulator error', message: err instanceof Error ? err.message : String(err) });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    fault: (f) => void faults.add(f),
    setService: (name, s) => setState({ services: { [name]: s } }),
    setEntitlement: (customer, e) => setState({ entitlements: { [customer]: e } }),
    setState,
    effects: () => structuredClone(effects),
    requests: () => structuredClone(requests),
    count: (kind) => effects.filter((e) => e.kind === kind).length,
    reset,
    events,
    close: () => {
      // Idempotent: a test's finally and its afterEach may both close it.
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const cancel of [...waiting]) cancel();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

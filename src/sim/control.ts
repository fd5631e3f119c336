/**
 * The simulated API's control routes (`/_sim/*`, docs/simulated-api.md): read what it recorded,
 * script faults, set and read its state, reset it. Never authenticated, never faulted, never
 * recorded as requests.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { FaultBook } from './faults.js';
import { FaultSchema, zodProblems, type Effect, type Fault, type RequestRecord, type StateInput } from './model.js';

/** What the control routes read and change of a running simulation. */
export interface ControlState {
  effects(): Effect[];
  requests(): RequestRecord[];
  faults: FaultBook;
  /** The state as `GET /_sim/state` shows it (token included). */
  snapshot(): Record<string, unknown>;
  setState(input: StateInput): void;
  reset(): void;
}

/** Answers with a JSON body (nothing when the client has gone). */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function onControl(sim: ControlState, req: { method: string; path: string; query: URLSearchParams; body: unknown }, res: ServerResponse): void {
  const invalid = (err: unknown): void => {
    if (err instanceof z.ZodError) send(res, 400, { error: 'bad request', problems: zodProblems(err) });
    else throw err;
  };
  const { body } = req;
  switch (`${req.method} ${req.path}`) {
    case 'GET /_sim/effects': {
      const kind = req.query.get('kind');
      return send(res, 200, { items: sim.effects().filter((e) => kind === null || e.kind === kind) });
    }
    case 'GET /_sim/requests':
      return send(res, 200, { items: sim.requests() });
    case 'GET /_sim/faults':
      return send(res, 200, { items: sim.faults.list() });
    case 'POST /_sim/faults': {
      // Validate all before adding any, so a bad batch changes nothing.
      const parsed = z.array(FaultSchema).safeParse(Array.isArray(body) ? body : [body]);
      if (!parsed.success) return invalid(parsed.error);
      return send(res, 201, { items: (Array.isArray(body) ? body : [body]).map((f) => sim.faults.add(f as Fault)) });
    }
    case 'DELETE /_sim/faults':
      sim.faults.clear();
      return send(res, 200, { items: [] });
    case 'GET /_sim/state':
      return send(res, 200, sim.snapshot());
    case 'POST /_sim/state':
      try {
        sim.setState(body as StateInput);
      } catch (err) {
        return invalid(err);
      }
      return send(res, 200, sim.snapshot());
    case 'POST /_sim/reset':
      sim.reset();
      return send(res, 200, { reset: true });
    default:
      return send(res, 404, { error: 'not found' });
  }
}

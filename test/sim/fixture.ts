/** Shared by the sim tests: one server per test, and a JSON fetch that never throws on status. */
import { afterEach, beforeEach } from 'vitest';
import { startSim, type Sim, type SimOptions } from '../../src/sim/index.js';

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** Calls the sim and parses its JSON answer. */
export async function call(
  sim: Sim,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Answer> {
  const res = await fetch(sim.url + path, {
    method,
    headers: { ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** A fresh sim for each test, closed after it. */
export function useSim(opts: SimOptions = {}): () => Sim {
  let sim: Sim | undefined;
  beforeEach(async () => {
    sim = await startSim(opts);
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });
  return () => sim!;
}

/**
 * Drives a simulated API from another process (crash tests, where the sim outlives a killed
 * worker): the same operations as `Sim`, over the `/_sim/*` control routes, plus `spawnSim` to
 * start one as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Effect, Fault, RequestRecord, StateInput } from './model.js';

export interface SimClient {
  readonly url: string;
  fault(f: Fault | Fault[]): Promise<void>;
  clearFaults(): Promise<void>;
  setState(s: StateInput): Promise<void>;
  /** Applied effects in order, optionally only those of one kind. */
  effects(kind?: string): Promise<Effect[]>;
  requests(): Promise<RequestRecord[]>;
  count(kind: string): Promise<number>;
  reset(): Promise<void>;
}

/** A client for the simulated API at `url` (its base URL, as `Sim.url` or `spawnSim` gives it). */
export function simClient(url: string): SimClient {
  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const send = () =>
      fetch(new URL(path, url), {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    let res: Response;
    try {
      res = await send();
    } catch (err) {
      // A kept-alive socket the double closed as this request went out: it never arrived, so
      // sending it again on a fresh connection is safe (the control routes are the test's own).
      if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
      res = await send();
    }
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`sim ${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }
  const items = async <T>(path: string): Promise<T[]> => ((await call('GET', path)) as { items: T[] }).items;
  return {
    url,
    fault: async (f) => void (await call('POST', '/_sim/faults', f)),
    clearFaults: async () => void (await call('DELETE', '/_sim/faults')),
    setState: async (s) => void (await call('POST', '/_sim/state', s)),
    effects: (kind) => items<Effect>(kind === undefined ? '/_sim/effects' : `/_sim/effects?kind=${encodeURIComponent(kind)}`),
    requests: () => items<RequestRecord>('/_sim/requests'),
    count: async (kind) => (await items<Effect>(`/_sim/effects?kind=${encodeURIComponent(kind)}`)).length,
    reset: async () => void (await call('POST', '/_sim/reset')),
  };
}

export interface SpawnedSim extends SimClient {
  readonly child: ChildProcess;
  /** Sends SIGTERM and waits for the process to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the simulated API in a child process and resolves once it printed its URL. Runs the
 * compiled `main.js` beside this module, or `main.ts` through tsx when this module is the source
 * (under vitest). `args` are passed on (`--token`, `--port`).
 */
export async function spawnSim(args: string[] = []): Promise<SpawnedSim> {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSource ? './main.ts' : './main.js', import.meta.url));
  const child = spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch (err) {
        reject(err);
      }
    });
    child.once('exit', (code) => reject(new Error(`sim process exited (${code}) before listening: ${stderr}`)));
    child.once('error', reject);
  });
  return {
    ...simClient(url),
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

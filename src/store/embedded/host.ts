/**
 * The owner's side of the host thread (host-thread.ts): starts it, opens connections to it over
 * MessagePorts (as streams node-postgres can use), tells it to serve the Unix socket, closes it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Duplex } from 'node:stream';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { FromHost, HostThreadData, ToHost } from './host-thread.js';

/**
 * A connection to the host thread as a stream: what node-postgres gets instead of a socket. It
 * has the few socket methods node-postgres calls (connect, setNoDelay, setKeepAlive, ref, unref).
 */
export class PortStream extends Duplex {
  /** Written this turn, sent as one message at its end. */
  private batch: Buffer[] = [];

  constructor(private readonly port: MessagePort) {
    super();
    port.on('message', (chunk: Uint8Array) => this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    port.once('close', () => {
      this.push(null);
      this.destroy();
    });
  }

  /** There is nothing to connect: the port is open. Says so the way a socket does. */
  connect(): this {
    process.nextTick(() => this.emit('connect'));
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    this.port.ref();
    return this;
  }

  unref(): this {
    this.port.unref();
    return this;
  }

  override _read(): void {
    // Pushed as the host answers.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // node-postgres writes a query as five messages (Parse, Bind, Describe, Execute, Sync) in one
    // turn; one message to the thread for all five costs a fifth of the wake-ups.
    if (this.batch.push(chunk) === 1) queueMicrotask(() => this.flush());
    cb();
  }

  private flush(): void {
    const chunks = this.batch;
    if (chunks.length === 0) return;
    this.batch = [];
    // One copy the port can take over (node-postgres's buffers may be slices of a shared pool).
    const u8 = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      u8.set(c, at);
      at += c.length;
    }
    this.port.postMessage(u8, [u8.buffer]);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush();
    this.port.close();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.port.close();
    cb(err);
  }
}

/** A compiled WebAssembly.Module (the lib settings declare neither its type nor the global). */
type WasmModule = object;
const webAssembly = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

let wasm: Promise<{ pgliteWasmModule: WasmModule; initdbWasmModule: WasmModule } | undefined> | undefined;

/**
 * PGlite's WebAssembly, compiled once per process: every host thread (tests open many in-memory
 * databases) gets the compiled module instead of compiling it again. Undefined when the files
 * are not where this PGlite version keeps them; each thread then compiles its own.
 */
function compiledWasm(): NonNullable<typeof wasm> {
  wasm ??= (async () => {
    try {
      const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
      const [pglite, initdb] = await Promise.all([readFile(join(dist, 'pglite.wasm')), readFile(join(dist, 'initdb.wasm'))]);
      const [pgliteWasmModule, initdbWasmModule] = await Promise.all([webAssembly.compile(pglite), webAssembly.compile(initdb)]);
      return { pgliteWasmModule, initdbWasmModule };
    } catch {
      return undefined;
    }
  })();
  return wasm;
}

/** Starts host-thread.js; from the TypeScript sources (tests, the bench) through tsx. */
function startThread(data: HostThreadData): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = new URL('./host-thread.ts', here).href;
    // The ESM build of tsx's API beside the CommonJS one require.resolve finds.
    const tsx = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, workerData: data });
  }
  return new Worker(new URL('./host-thread.js', here), { workerData: data });
}

export interface HostOptions {
  /** Data directory (absolute); none for in memory. */
  dir?: string;
  durable: boolean;
  idleInTransactionMs?: number;
}

/** A running host thread. */
export class EmbeddedHost {
  private closed = false;
  private readonly failures = new Set<(message: string) => void>();
  /** The one request waiting for its answer (serve, close). */
  private pending: { expect: FromHost['type']; resolve: (m: FromHost) => void } | undefined;

  private constructor(
    private readonly thread: Worker,
    /** Whether this start created the database (a new data directory). */
    readonly created: boolean,
    /** How long PGlite took to open, in ms. */
    readonly openMs: number,
  ) {
    const answer = (m: FromHost): boolean => {
      const p = this.pending;
      if (!p || (m.type !== p.expect && m.type !== 'failed')) return false;
      this.pending = undefined;
      p.resolve(m);
      return true;
    };
    thread.on('message', (m: FromHost) => {
      if (answer(m) || m.type !== 'failed' || this.closed) return;
      for (const f of this.failures) f(m.message);
    });
    thread.on('exit', (code) => {
      answer({ type: 'failed', message: `the database thread exited (code ${code})` });
      if (this.closed) return;
      this.closed = true;
      for (const f of this.failures) f(`the database thread exited unexpectedly (code ${code})`);
    });
  }

  /** Starts a host thread and waits until PGlite is open. */
  static async start(o: HostOptions): Promise<EmbeddedHost> {
    const modules = await compiledWasm();
    const data: HostThreadData = { durable: o.durable, ...(o.dir ? { dir: o.dir } : {}), ...(modules ?? {}), ...(o.idleInTransactionMs !== undefined ? { idleInTransactionMs: o.idleInTransactionMs } : {}) };
    const thread = startThread(data);
    const first = await new Promise<FromHost>((resolve) => {
      thread.once('message', resolve);
      thread.once('error', (err) => resolve({ type: 'failed', message: err.message }));
      thread.once('exit', (code) => resolve({ type: 'failed', message: `the database thread exited (${code})` }));
    });
    if (first.type !== 'ready') {
      await thread.terminate();
      throw new Error(first.type === 'failed' ? first.message : `unexpected ${first.type} from the database thread`);
    }
    return new EmbeddedHost(thread, first.created, first.ms);
  }

  /** Called if the thread fails or exits while open. */
  onFailure(f: (message: string) => void): void {
    this.failures.add(f);
  }

  /** A new connection to the database. */
  connect(): PortStream {
    const { port1, port2 } = new MessageChannel();
    this.thread.postMessage({ type: 'connect', port: port2 } satisfies ToHost, [port2]);
    return new PortStream(port1);
  }

  private ask(m: ToHost, expect: FromHost['type']): Promise<FromHost> {
    return new Promise((resolve) => {
      this.pending = { expect, resolve };
      this.thread.postMessage(m);
    });
  }

  /** Serves other processes on the Unix socket at `path`. */
  async serve(path: string): Promise<void> {
    const m = await this.ask({ type: 'serve', path }, 'serving');
    if (m.type === 'failed') throw new Error(m.message);
  }

  /** Ends every connection, closes PGlite (a clean shutdown) and the thread. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const m = await this.ask({ type: 'close' }, 'closed');
    if (m.type === 'failed') {
      await this.thread.terminate();
      throw new Error(m.message);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.thread.terminate().then(() => resolve()), 5000);
      this.thread.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

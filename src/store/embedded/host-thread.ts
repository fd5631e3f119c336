/**
 * The thread that hosts PGlite (a `worker_threads` worker of the process that owns the data
 * directory). PGlite runs its WebAssembly synchronously; here, that blocks nothing but this
 * thread, and the process's main thread (steps, timers, signals, HTTP) stays free.
 *
 * Connections come in two ways, both served by one SessionMultiplexer: MessagePorts from the
 * owner's main thread (its own pool), and, once the owner has migrated the database and says
 * `serve`, a Unix socket in the data directory for the other runwarden processes.
 *
 * Messages from the main thread: `{ type: 'connect', port }`, `{ type: 'serve', path }`,
 * `{ type: 'close' }`. To it: `ready` (with whether the database was created), `serving`,
 * `closed`, and `failed` (with a message) when PGlite cannot open or breaks.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { DurableNodeFS, durableStartParams } from './durability.js';
import { SessionMultiplexer, type Transport } from './multiplexer.js';

/** What the owner passes to the thread. */
export interface HostThreadData {
  /** The data directory (absolute); none for an in-memory database. */
  dir?: string;
  /** fsync at commit (data directories only). */
  durable: boolean;
  /** PGlite's WebAssembly.Modules, compiled once per process and shared by its host threads. */
  pgliteWasmModule?: object;
  initdbWasmModule?: object;
  idleInTransactionMs?: number;
}

export type ToHost = { type: 'connect'; port: MessagePort } | { type: 'serve'; path: string } | { type: 'close' };
export type FromHost =
  | { type: 'ready'; created: boolean; ms: number }
  | { type: 'serving' }
  | { type: 'closed' }
  | { type: 'failed'; message: string };

const port = parentPort!;
const data = workerData as HostThreadData;
const send = (m: FromHost) => port.postMessage(m);

/** A StartupMessage (protocol 3.0, user postgres): its answer is every connection's greeting. */
function startupMessage(): Buffer {
  const body = Buffer.from('user\0postgres\0database\0postgres\0\0', 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(3 << 16, 4);
  return Buffer.concat([head, body]);
}

async function start(): Promise<void> {
  const started = performance.now();
  const created = data.dir !== undefined && !existsSync(join(data.dir, 'PG_VERSION'));
  const options: PGliteOptions = {};
  if (data.pgliteWasmModule) Object.assign(options, { pgliteWasmModule: data.pgliteWasmModule });
  if (data.initdbWasmModule) Object.assign(options, { initdbWasmModule: data.initdbWasmModule });
  if (data.dir && data.durable) Object.assign(options, { fs: new DurableNodeFS(data.dir), startParams: durableStartParams() });
  else if (data.dir) options.dataDir = data.dir;
  const pglite = await PGlite.create(options);

  // Streamed, not collected: PGlite's collecting path also parses every answer for its own API.
  const exec = async (bytes: Buffer): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    let size = 0;
    await pglite.execProtocolRawStream(bytes, {
      syncToFs: false,
      onRawData: (d) => {
        // `d` is a view of PGlite's memory, reused by the next write: copy it out.
        chunks.push(Buffer.from(d.slice().buffer));
        size += d.length;
      },
    });
    if (chunks.length === 1) return chunks[0]!;
    const out = Buffer.from(new ArrayBuffer(size));
    let at = 0;
    for (const c of chunks) {
      c.copy(out, at);
      at += c.length;
    }
    return out;
  };
  const greeting = await exec(startupMessage());
  let closing = false;
  const mux = new SessionMultiplexer({
    exec,
    greeting,
    ...(data.idleInTransactionMs !== undefined ? { idleInTransactionMs: data.idleInTransactionMs } : {}),
    onFatal: (err) => {
      if (!closing) send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    },
  });

  let server: Server | undefined;
  let socketPath: string | undefined;
  const sockets = new Set<Socket>();

  const fromPort = (p: MessagePort): void => {
    const transport: Transport = {
      write: (bytes) => {
        // Transferred, so a copy: the multiplexer writes some buffers to several connections
        // (the greeting, notifications), and a transferred buffer is gone for the sender.
        const u8 = new Uint8Array(bytes);
        p.postMessage(u8, [u8.buffer]);
      },
      end: () => p.close(),
    };
    const conn = mux.open(transport);
    p.on('message', (chunk: Uint8Array) => conn.receive(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    p.on('close', () => conn.closed());
  };

  const fromSocket = (s: Socket): void => {
    sockets.add(s);
    s.setNoDelay(true);
    const conn = mux.open({ write: (bytes) => void s.write(bytes), end: () => void s.end() });
    s.on('data', (chunk: Buffer) => conn.receive(chunk));
    s.on('error', () => undefined); // 'close' follows
    s.on('close', () => {
      sockets.delete(s);
      conn.closed();
    });
  };

  const serve = async (path: string): Promise<void> => {
    // Only the owner of the directory's lock gets here: a socket file left by a killed owner is stale.
    await unlink(path).catch(() => undefined);
    server = createServer(fromSocket);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(path, () => {
        server!.off('error', reject);
        resolve();
      });
    });
    socketPath = path;
    // The directory is the owner's alone (0700); the socket says so too.
    await chmod(path, 0o600).catch(() => undefined);
  };

  const close = async (): Promise<void> => {
    closing = true;
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await mux.close();
    await pglite.close();
    if (socketPath) await unlink(socketPath).catch(() => undefined);
  };

  port.on('message', (m: ToHost) => {
    if (m.type === 'connect') fromPort(m.port);
    else if (m.type === 'serve') {
      serve(m.path).then(
        () => send({ type: 'serving' }),
        (err: Error) => send({ type: 'failed', message: `cannot serve the embedded database on ${m.path}: ${err.message}` }),
      );
    } else if (m.type === 'close') {
      close().then(
        () => {
          send({ type: 'closed' });
          port.close();
        },
        (err: Error) => send({ type: 'failed', message: `closing the embedded database failed: ${err.message}` }),
      );
    }
  });
  send({ type: 'ready', created, ms: Math.round(performance.now() - started) });
}

start().catch((err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));

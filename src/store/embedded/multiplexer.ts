/**
 * Many PostgreSQL connections on PGlite's one session. PGlite is a single-user PostgreSQL: one
 * session, one transaction at a time. Every connection to the embedded database (the owner's
 * own pool, other runwarden processes through the Unix socket) is multiplexed onto it here, and
 * each must behave as if it had a session of its own:
 *
 * - A unit of work (a simple Query, or extended-protocol messages up to their Sync) runs whole,
 *   never interleaved with another connection's messages: the unnamed statement and portal of
 *   one connection cannot be replaced by another's half way.
 * - A connection inside a transaction (ReadyForQuery 'T' or 'E') holds the session: the others'
 *   units wait until it is idle again ('I'), so no statement of another connection runs inside
 *   someone else's transaction (where it would see uncommitted rows, or be rolled back with it).
 * - Prepared statement and portal names are renamed per connection (`name@id`), so two
 *   connections preparing the same name do not collide, and a connection's statements are
 *   closed when it ends.
 * - LISTEN is kept per connection: a notification (NotificationResponse) is taken out of the
 *   answer it arrived in and passed to every connection that listens on its channel, and to no
 *   other. UNLISTEN only forgets the connection's interest; the session keeps listening, which
 *   costs nothing.
 * - A connection that ends in the middle of a transaction is rolled back; one that holds the
 *   session idle in a transaction while others wait is ended after `idleInTransactionMs`.
 * - Unnamed statements are prepared once for the session and reused by every connection
 *   (statement-cache.ts): PGlite's parse and plan, in WebAssembly, are no longer paid per query.
 *
 * Why our own and not the multiplexer of @electric-sql/pglite-socket (0.2.x): that one queues
 * single messages, not units, so the extended-protocol messages of two connections interleave
 * (one's Bind meets the other's unnamed statement); it shares statement names between
 * connections; and it hands a notification to whichever connection's query it came back with.
 * It also pins exact PGlite versions as peer dependencies, with seven extension packages.
 *
 * Not supported on the shared session (runwarden uses none of them): COPY FROM STDIN, session
 * settings (`SET` outside a transaction is seen by every connection), LISTEN inside a
 * transaction that is then rolled back (the connection is taken to listen all the same).
 */
import { createHash } from 'node:crypto';
import { StatementCache } from './statement-cache.js';
import {
  commandComplete,
  closeStatement,
  errorResponse,
  F,
  listenCommand,
  messageSize,
  negotiateProtocolVersion,
  query,
  readAnswer,
  readStartupPacket,
  readyForQuery,
  renameIn,
  listenText,
  mayChangeSchema,
  SYNC,
  type ListenCommand,
  type Notification,
  type StartupPacket,
  type TxStatus,
} from './wire.js';

/** One client connection's byte stream, as the host sees it. */
export interface Transport {
  write(bytes: Buffer): void;
  /** Ends the connection once what was written is sent. */
  end(): void;
}

export interface MultiplexerOptions {
  /** Runs protocol messages on the session and returns everything the server answered. */
  exec(bytes: Buffer): Promise<Buffer>;
  /** What the server answers a StartupMessage (authentication ok, parameters, ReadyForQuery). */
  greeting: Buffer;
  /** A connection idle in a transaction while others wait is ended after this long. Default 30s. */
  idleInTransactionMs?: number;
  /** The session failed (PGlite threw): every connection has been ended. */
  onFatal?(err: unknown): void;
}

interface Unit {
  /** The unit's messages, renamed for the session. */
  messages: Buffer[];
  /** Ends with Flush: the extended-protocol sequence continues in the next unit. */
  flush: boolean;
  listen?: ListenCommand;
  /** The connection ended: roll back, close its statements, forget it. */
  cleanup?: boolean;
}

const PREPARED_NAME_MAX = 63; // NAMEDATALEN - 1: longer names are truncated, and would collide

/** A client connection on the shared session. */
export class MuxConnection {
  /** Waiting to be run, in order. */
  readonly units: Unit[] = [];
  status: TxStatus = 'I';
  /** Inside an extended-protocol sequence (messages run, no Sync yet). */
  open = false;
  gone = false;
  readonly listens = new Set<string>();
  readonly statements = new Set<string>();
  private phase: 'startup' | 'ready' = 'startup';
  private inbox: Buffer = Buffer.alloc(0);
  private collecting: Buffer[] = [];
  private listen: ListenCommand | undefined;

  constructor(
    readonly id: number,
    private readonly transport: Transport,
    private readonly mux: SessionMultiplexer,
  ) {}

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    if (this.gone) return;
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, chunk]) : chunk;
    let at = 0;
    while (!this.gone) {
      if (this.phase === 'startup') {
        const got = readStartupPacket(this.inbox.subarray(at));
        if (!got) break;
        at += got.size;
        this.startup(got.packet);
        continue;
      }
      const size = messageSize(this.inbox, at);
      if (size === 0) break;
      const msg = this.inbox.subarray(at, at + size);
      at += size;
      this.message(msg);
    }
    this.inbox = at >= this.inbox.length ? Buffer.alloc(0) : Buffer.from(this.inbox.subarray(at));
  }

  /** The client went away (socket closed, port closed). */
  closed(): void {
    this.mux.drop(this);
  }

  write(bytes: Buffer): void {
    if (!this.gone && bytes.length > 0) this.transport.write(bytes);
  }

  /** Ends the connection, with a FATAL error first when there is something to say. */
  terminate(code?: string, message?: string): void {
    if (!this.gone && code && message) this.transport.write(errorResponse('FATAL', code, message));
    this.transport.end();
    this.mux.drop(this);
  }

  private startup(p: StartupPacket): void {
    switch (p.kind) {
      case 'ssl':
      case 'gssenc':
        // A local socket needs no encryption; the client goes on without it.
        this.transport.write(Buffer.from('N'));
        return;
      case 'cancel':
        // PGlite runs one statement at a time to the end; there is nothing to cancel.
        this.transport.end();
        this.mux.drop(this);
        return;
      case 'unsupported':
        this.terminate('0A000', `unsupported frontend protocol ${p.version >>> 16}.${p.version & 0xffff}: the embedded database speaks 3.0`);
        return;
      case 'startup':
        if (p.minor > 0 || p.unknownOptions.length > 0) this.transport.write(negotiateProtocolVersion(p.unknownOptions));
        this.transport.write(this.mux.greeting);
        this.phase = 'ready';
    }
  }

  private message(msg: Buffer): void {
    const type = msg[0];
    if (type === F.terminate) {
      this.transport.end();
      this.mux.drop(this);
      return;
    }
    const renamed = renameIn(msg, (name, kind) => this.mux.sessionName(this, name, kind));
    if (type === F.parse && renamed !== msg) this.statements.add(parsedName(renamed));
    const sql = listenText(msg);
    if (sql !== undefined) this.listen = listenCommand(sql) ?? this.listen;
    this.collecting.push(renamed);
    if (type === F.query || type === F.sync || type === F.functionCall || type === F.flush) {
      const unit: Unit = { messages: this.collecting, flush: type === F.flush };
      if (this.listen) unit.listen = this.listen;
      this.collecting = [];
      this.listen = undefined;
      this.mux.enqueue(this, unit);
    }
  }
}

function parsedName(parse: Buffer): string {
  return parse.toString('utf8', 5, parse.indexOf(0, 5));
}

/** Multiplexes client connections onto one PGlite session; see the file comment. */
export class SessionMultiplexer {
  readonly greeting: Buffer;
  private readonly exec: (bytes: Buffer) => Promise<Buffer>;
  private readonly idleMs: number;
  private readonly onFatal: ((err: unknown) => void) | undefined;
  private readonly connections = new Set<MuxConnection>();
  /** Connections with units waiting, in the order they became ready. */
  private readonly ready: MuxConnection[] = [];
  /** The connection whose transaction has the session, if any. */
  private holder: MuxConnection | undefined;
  private running = false;
  private dead: unknown;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly cache = new StatementCache();

  constructor(o: MultiplexerOptions) {
    this.exec = o.exec;
    this.greeting = o.greeting;
    this.idleMs = o.idleInTransactionMs ?? 30_000;
    this.onFatal = o.onFatal;
  }

  /** A new client connection. */
  open(transport: Transport): MuxConnection {
    const conn = new MuxConnection(this.nextId++, transport, this);
    if (this.dead) {
      transport.write(errorResponse('FATAL', 'XX000', `the embedded database failed: ${String(this.dead)}`));
      transport.end();
      conn.gone = true;
      return conn;
    }
    this.connections.add(conn);
    return conn;
  }

  /** How many client connections are open. */
  get size(): number {
    return this.connections.size;
  }

  /** Ends every connection (the host is closing); resolves once nothing runs on the session. */
  async close(message = 'the process that hosts the embedded database is closing'): Promise<void> {
    for (const c of [...this.connections]) c.terminate('57P01', message);
    while (this.running) await new Promise((r) => setImmediate(r));
    clearTimeout(this.idleTimer);
  }

  /** The name a connection's statement or portal has on the shared session. */
  sessionName(conn: MuxConnection, name: string, _kind: 'S' | 'P'): string {
    const plain = `${name}@${conn.id}`;
    if (Buffer.byteLength(plain) <= PREPARED_NAME_MAX) return plain;
    return `${createHash('sha1').update(name).digest('hex').slice(0, 24)}@${conn.id}`;
  }

  enqueue(conn: MuxConnection, unit: Unit): void {
    conn.units.push(unit);
    if (conn.units.length === 1) this.ready.push(conn);
    this.pump();
  }

  /** Forgets a connection: its waiting units go, and what it left on the session is undone. */
  drop(conn: MuxConnection): void {
    if (conn.gone) return;
    conn.gone = true;
    this.connections.delete(conn);
    const wasReady = conn.units.length > 0;
    conn.units.length = 0;
    // Queued like any unit of the connection's, so it cannot overtake one that is running; what
    // it undoes is decided when it runs, from the state that unit left.
    conn.units.push({ messages: [], flush: false, cleanup: true });
    if (!wasReady) this.ready.push(conn);
    this.pump();
  }

  /** What undoes a connection's traces on the session: its transaction and its statements. */
  private cleanupBytes(conn: MuxConnection): Buffer {
    const parts: Buffer[] = [];
    if (conn.open) parts.push(SYNC);
    if (conn.status !== 'I' || conn.open) parts.push(query('ROLLBACK'));
    for (const name of conn.statements) parts.push(closeStatement(name));
    if (conn.statements.size > 0) parts.push(SYNC);
    return Buffer.concat(parts);
  }

  private next(): MuxConnection | undefined {
    if (this.holder) return this.holder.units.length > 0 ? this.holder : undefined;
    return this.ready[0];
  }

  private pump(): void {
    if (this.running || this.dead) return;
    this.running = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let conn = this.next(); conn; conn = this.next()) {
        if (!this.holder) await this.closeEvicted();
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
        const unit = conn.units.shift()!;
        const at = this.ready.indexOf(conn);
        if (at >= 0) this.ready.splice(at, 1);
        // Round robin: a connection with more to do goes to the back.
        if (conn.units.length > 0) this.ready.push(conn);
        await this.run(conn, unit);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      // In the same turn as the last look for work: a unit queued while the last one ran was seen.
      this.running = false;
    }
    this.armIdleTimer();
  }

  private async run(conn: MuxConnection, unit: Unit): Promise<void> {
    if (!unit.cleanup && isLocalUnlisten(unit)) {
      // The session keeps listening (other connections may); this connection just stops hearing.
      const cmd = unit.listen!;
      if (cmd.op === 'unlisten-all') conn.listens.clear();
      else if (cmd.op === 'unlisten') conn.listens.delete(cmd.channel);
      conn.write(Buffer.concat([commandComplete('UNLISTEN'), readyForQuery(conn.status)]));
      return;
    }
    if (unit.cleanup) {
      const bytes = this.cleanupBytes(conn);
      const answer = bytes.length > 0 ? readAnswer(await this.exec(bytes)) : undefined;
      if (this.holder === conn) this.holder = undefined;
      conn.listens.clear();
      conn.statements.clear();
      if (answer) this.deliver(answer.notifications, undefined);
      return;
    }
    if (unit.messages.some(mayChangeSchema)) this.cache.clear();
    const plan = this.cache.plan(unit.messages);
    const messages = plan?.messages ?? unit.messages;
    const answer = readAnswer(await this.exec(messages.length === 1 ? messages[0]! : Buffer.concat(messages)));
    const bytes = plan ? this.cache.settle(plan, answer) : answer.bytes;
    if (answer.status) conn.status = answer.status;
    conn.open = unit.flush;
    if (unit.listen?.op === 'listen' && !answer.failed) conn.listens.add(unit.listen.channel);
    if (conn.status !== 'I' || conn.open) this.holder = conn;
    else if (this.holder === conn) this.holder = undefined;
    conn.write(bytes);
    this.deliver(answer.notifications, conn);
  }

  /** Closes the statements the cache let go, while no transaction holds the session. */
  private async closeEvicted(): Promise<void> {
    const names = this.cache.takeEvicted();
    if (names.length === 0) return;
    const answer = readAnswer(await this.exec(Buffer.concat([...names.map(closeStatement), SYNC])));
    this.deliver(answer.notifications, undefined);
  }

  /** Passes notifications to the connections listening on their channels (the sender last). */
  private deliver(notifications: Notification[], sender: MuxConnection | undefined): void {
    for (const n of notifications) {
      for (const c of this.connections) if (c !== sender && c.listens.has(n.channel)) c.write(n.bytes);
      if (sender?.listens.has(n.channel)) sender.write(n.bytes);
    }
  }

  /** A holder idle in its transaction while others wait is ended after idleMs. */
  private armIdleTimer(): void {
    const holder = this.holder;
    if (!holder || holder.units.length > 0 || this.ready.length === 0 || this.idleTimer || this.dead) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.holder !== holder || holder.units.length > 0 || this.ready.length === 0) return;
      holder.terminate(
        '25P03',
        `terminating connection: idle in a transaction for ${this.idleMs}ms while other connections waited (the embedded database runs one transaction at a time)`,
      );
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private fail(err: unknown): void {
    this.dead = err;
    this.holder = undefined;
    this.ready.length = 0;
    for (const c of [...this.connections]) c.terminate('XX000', `the embedded database failed: ${err instanceof Error ? err.message : String(err)}`);
    this.onFatal?.(err);
  }
}

/** An UNLISTEN sent alone as a simple query: answered without running it. */
function isLocalUnlisten(unit: Unit): boolean {
  return unit.listen !== undefined && unit.listen.op !== 'listen' && unit.messages.length === 1 && unit.messages[0]![0] === F.query;
}

/**
 * The few pieces of the PostgreSQL wire protocol (version 3) the embedded database's session
 * multiplexer needs: framing what clients send, renaming prepared statements and portals per
 * connection, reading what the server answered (transaction status, errors, notifications), and
 * building the handful of server messages the multiplexer answers itself.
 *
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Protocol 3.0 in a StartupMessage. */
export const PROTOCOL_3 = 3 << 16;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** The packets a client may send before it is authenticated. */
export type StartupPacket =
  | { kind: 'ssl' | 'gssenc' | 'cancel' }
  | { kind: 'startup'; minor: number; unknownOptions: string[] }
  | { kind: 'unsupported'; version: number };

/** Reads one startup-phase packet at the start of `buf`, or null when it is not complete yet. */
export function readStartupPacket(buf: Buffer): { packet: StartupPacket; size: number } | null {
  if (buf.length < 8) return null;
  const size = buf.readInt32BE(0);
  if (buf.length < size) return null;
  const code = buf.readInt32BE(4);
  if (code === SSL_REQUEST) return { packet: { kind: 'ssl' }, size };
  if (code === GSSENC_REQUEST) return { packet: { kind: 'gssenc' }, size };
  if (code === CANCEL_REQUEST) return { packet: { kind: 'cancel' }, size };
  if (code >>> 16 !== 3) return { packet: { kind: 'unsupported', version: code }, size };
  // name\0value\0 pairs; protocol options (`_pq_.`) are the ones a server must answer for.
  const unknownOptions: string[] = [];
  const fields = buf.subarray(8, size - 1).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.startsWith('_pq_.')) unknownOptions.push(fields[i]!);
  return { packet: { kind: 'startup', minor: code & 0xffff, unknownOptions }, size };
}

/** The length of the typed message at `offset` (type byte included), or 0 when incomplete. */
export function messageSize(buf: Buffer, offset: number): number {
  if (buf.length - offset < 5) return 0;
  const size = 1 + buf.readInt32BE(offset + 1);
  return buf.length - offset >= size ? size : 0;
}

/** Frontend message types the multiplexer looks at. */
export const F = {
  query: 0x51, // Q
  parse: 0x50, // P
  bind: 0x42, // B
  describe: 0x44, // D
  close: 0x43, // C
  execute: 0x45, // E
  sync: 0x53, // S
  flush: 0x48, // H
  terminate: 0x58, // X
  functionCall: 0x46, // F
} as const;

function cstring(buf: Buffer, offset: number): { value: string; end: number } {
  const end = buf.indexOf(0, offset);
  return { value: buf.toString('utf8', offset, end), end: end + 1 };
}

/**
 * The SQL text of a Query or Parse message when it may be a LISTEN or UNLISTEN (it starts with
 * an L or a U); otherwise undefined, without decoding the text (the hot path's statements are
 * long, and every one passes here).
 */
export function listenText(msg: Buffer): string | undefined {
  let at: number;
  if (msg[0] === F.query) at = 5;
  else if (msg[0] === F.parse) at = msg.indexOf(0, 5) + 1;
  else return undefined;
  let i = at;
  while (msg[i] === 0x20 || msg[i] === 0x0a || msg[i] === 0x09 || msg[i] === 0x0d) i++;
  const c = msg[i]! | 0x20; // lower case
  if (c !== 0x6c && c !== 0x75) return undefined; // l, u
  return cstring(msg, at).value;
}

/** Simple queries that cannot change what a prepared statement returns. */
const PLAN_SAFE = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE', 'SELECT', 'SHOW', 'LISTEN', 'UNLISTEN', 'NOTIFY', 'SET', 'RESET']);

/**
 * Whether a message may change the schema under prepared statements: a simple Query that does
 * not start with a transaction command, SELECT, SHOW, SET or LISTEN. (DDL has no parameters, so
 * node-postgres sends it as a simple Query; migrations do.)
 */
export function mayChangeSchema(msg: Buffer): boolean {
  if (msg[0] !== F.query) return false;
  const word = /^\s*([A-Za-z]+)/.exec(msg.toString('latin1', 5, Math.min(msg.length, 5 + 64)))?.[1]?.toUpperCase();
  return word === undefined || !PLAN_SAFE.has(word);
}

/** Maps a client's statement ('S') or portal ('P') name to the name used in the shared session. */
export type NameMap = (name: string, kind: 'S' | 'P') => string;

function frame(type: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

/**
 * Renames the statement and portal names a Parse, Bind, Describe, Close or Execute message
 * carries. The unnamed statement and portal ('') stay unnamed: they live only until the next
 * Parse or Bind of the same unit of work, which the multiplexer runs without interruption.
 * Other messages are returned as they are.
 */
export function renameIn(msg: Buffer, map: NameMap): Buffer {
  const type = msg[0];
  const rename = (name: string, kind: 'S' | 'P') => (name === '' ? '' : map(name, kind));
  switch (type) {
    case F.parse: {
      const name = cstring(msg, 5);
      if (name.value === '') return msg;
      return frame(F.parse, [z(rename(name.value, 'S')), msg.subarray(name.end)]);
    }
    case F.bind: {
      const portal = cstring(msg, 5);
      const stmt = cstring(msg, portal.end);
      if (portal.value === '' && stmt.value === '') return msg;
      return frame(F.bind, [z(rename(portal.value, 'P')), z(rename(stmt.value, 'S')), msg.subarray(stmt.end)]);
    }
    case F.describe:
    case F.close: {
      const kind = msg[5] === 0x50 ? 'P' : 'S';
      const name = cstring(msg, 6);
      if (name.value === '') return msg;
      return frame(type, [msg.subarray(5, 6), z(rename(name.value, kind)), msg.subarray(name.end)]);
    }
    case F.execute: {
      const portal = cstring(msg, 5);
      if (portal.value === '') return msg;
      return frame(F.execute, [z(rename(portal.value, 'P')), msg.subarray(portal.end)]);
    }
    default:
      return msg;
  }
}

/** Close of a named statement, as the multiplexer sends it when its connection ends. */
export function closeStatement(name: string): Buffer {
  return frame(F.close, [Buffer.from('S'), z(name)]);
}

export const SYNC = frame(F.sync, []);

/** A simple Query message. */
export function query(sql: string): Buffer {
  return frame(F.query, [z(sql)]);
}

// ---------------------------------------------------------------------------------------------
// What the server sends

/** Transaction status of a ReadyForQuery: idle, in a transaction, in a failed transaction. */
export type TxStatus = 'I' | 'T' | 'E';

export interface Notification {
  channel: string;
  payload: string;
  /** The whole NotificationResponse message, to pass on as it is. */
  bytes: Buffer;
}

export interface Answer {
  /** What goes back to the connection that sent the unit: the answer without notifications. */
  bytes: Buffer;
  /** The status of the last ReadyForQuery, if there was one. */
  status: TxStatus | undefined;
  /** Whether an ErrorResponse was among the messages. */
  failed: boolean;
  /** The SQLSTATE of the first ErrorResponse. */
  errorCode?: string;
  /** Whether the answer starts with ParseComplete. */
  parsed: boolean;
  notifications: Notification[];
}

/** The SQLSTATE (field `C`) of the ErrorResponse at `at`. */
function errorCodeAt(out: Buffer, at: number, end: number): string | undefined {
  for (let i = at + 5; i < end && out[i] !== 0; ) {
    const field = out[i];
    const value = cstring(out, i + 1);
    if (field === 0x43) return value.value; // C
    i = value.end;
  }
  return undefined;
}

/** Reads a server answer; NotificationResponses are taken out, for the connections that listen. */
export function readAnswer(out: Buffer): Answer {
  let status: TxStatus | undefined;
  let failed = false;
  let errorCode: string | undefined;
  const notifications: Notification[] = [];
  const keep: Buffer[] = [];
  let kept = 0;
  for (let at = 0; at + 5 <= out.length; ) {
    const type = out[at]!;
    const size = 1 + out.readInt32BE(at + 1);
    if (type === 0x5a) status = String.fromCharCode(out[at + 5]!) as TxStatus; // Z
    else if (type === 0x45 && !failed) {
      failed = true; // E
      errorCode = errorCodeAt(out, at, at + size);
    }
    else if (type === 0x41) {
      // A: int32 pid, channel\0, payload\0
      const channel = cstring(out, at + 9);
      const payload = cstring(out, channel.end);
      if (at > kept) keep.push(out.subarray(kept, at));
      kept = at + size;
      notifications.push({ channel: channel.value, payload: payload.value, bytes: Buffer.from(out.subarray(at, at + size)) });
    }
    at += size;
  }
  const parsed = out[0] === 0x31; // 1
  const code = errorCode === undefined ? {} : { errorCode };
  if (notifications.length === 0) return { bytes: out, status, failed, ...code, parsed, notifications };
  if (kept < out.length) keep.push(out.subarray(kept));
  return { bytes: Buffer.concat(keep), status, failed, ...code, parsed, notifications };
}

/** ParseComplete, for a Parse the multiplexer answered from its statement cache. */
export const PARSE_COMPLETE = frame(0x31, []);

/** The statement name of a Parse message. */
export function parseName(msg: Buffer): string {
  return cstring(msg, 5).value;
}

/** What identifies an unnamed Parse's statement: its text and parameter types (the bytes after the name). */
export function parseKey(msg: Buffer): string {
  return msg.toString('latin1', 6);
}

/** The statement name a Bind message binds. */
export function bindStatement(msg: Buffer): string {
  return cstring(msg, cstring(msg, 5).end).value;
}

/** ReadyForQuery with the given status. */
export function readyForQuery(status: TxStatus): Buffer {
  return frame(0x5a, [Buffer.from(status)]);
}

/** CommandComplete with a tag such as `UNLISTEN`. */
export function commandComplete(tag: string): Buffer {
  return frame(0x43, [z(tag)]);
}

/** An ErrorResponse: severity (ERROR, FATAL), SQLSTATE and message. */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, message: string): Buffer {
  return frame(0x45, [Buffer.from('S'), z(severity), Buffer.from('V'), z(severity), Buffer.from('C'), z(code), Buffer.from('M'), z(message), Buffer.from([0])]);
}

/** NegotiateProtocolVersion: the newest 3.x minor version we speak (0) and the options we do not. */
export function negotiateProtocolVersion(unknownOptions: string[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(0, 0);
  head.writeInt32BE(unknownOptions.length, 4);
  return frame(0x76, [head, ...unknownOptions.map(z)]);
}

// ---------------------------------------------------------------------------------------------
// LISTEN and UNLISTEN, which the multiplexer keeps per connection

/** `LISTEN ch`, `UNLISTEN ch` or `UNLISTEN *` (one statement), with the channel as PostgreSQL names it. */
export type ListenCommand = { op: 'listen' | 'unlisten'; channel: string } | { op: 'unlisten-all' };

const LISTEN_RE = /^\s*(LISTEN|UNLISTEN)\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*|\*)\s*;?\s*$/i;

/** Recognises a LISTEN or UNLISTEN statement; anything else is undefined. */
export function listenCommand(sql: string): ListenCommand | undefined {
  const m = LISTEN_RE.exec(sql);
  if (!m) return undefined;
  const op = m[1]!.toUpperCase() === 'LISTEN' ? 'listen' : 'unlisten';
  const raw = m[2]!;
  if (raw === '*') return op === 'unlisten' ? { op: 'unlisten-all' } : undefined;
  // An unquoted identifier folds to lower case; a quoted one is taken as written.
  const channel = raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.toLowerCase();
  return { op, channel };
}

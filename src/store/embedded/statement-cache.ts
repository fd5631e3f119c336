/**
 * Unnamed statements prepared once for the whole shared session. node-postgres sends a query
 * without a `name` as an unnamed Parse every time, and PGlite parses and plans it every time; on
 * WebAssembly that is most of the cost of runwarden's largest statement (`applyChange`, whose
 * text varies with the columns a change sets, so it cannot have one name in the code).
 *
 * The multiplexer hands each unit that starts with an unnamed Parse (and prepares nothing else)
 * to `plan`: the first time a statement text is seen it is prepared under a session-wide name
 * instead; after that, the Parse is left out and the client is answered ParseComplete as if it
 * had run. Statements are shared by every connection (same text, same types, same session),
 * the least recently used beyond `max` are closed when the session is idle. A simple query that
 * may change the schema (DDL: migrations) empties the cache first, so no statement outlives the
 * tables it was planned for; one PostgreSQL refuses all the same (its tables changed) is
 * forgotten, and the next use prepares it afresh.
 */
import { bindStatement, F, parseKey, parseName, PARSE_COMPLETE, type Answer } from './wire.js';

export interface CachePlan {
  messages: Buffer[];
  key: string;
  name: string;
  hit: boolean;
}

/** Errors after which a cached statement must not be used again. */
const STALE = new Set([
  '0A000', // cached plan must not change result type (a column was added or dropped)
  '26000', // prepared statement does not exist
]);

function frame(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A Parse of the same statement under `name`. */
function parseAs(parse: Buffer, name: string): Buffer {
  return frame(F.parse, Buffer.concat([Buffer.from(`${name}\0`), parse.subarray(6)]));
}

/** A Bind or Describe of the unnamed statement, made to use `name`; other messages as they are. */
function useStatement(msg: Buffer, name: string): Buffer {
  if (msg[0] === F.bind && bindStatement(msg) === '') {
    const portalEnd = msg.indexOf(0, 5) + 1;
    return frame(F.bind, Buffer.concat([msg.subarray(5, portalEnd), Buffer.from(`${name}\0`), msg.subarray(portalEnd + 1)]));
  }
  if (msg[0] === F.describe && msg[5] === 0x53 && msg[6] === 0) return frame(F.describe, Buffer.concat([Buffer.from('S'), Buffer.from(`${name}\0`)]));
  return msg;
}

export class StatementCache {
  /** Statement key -> session name, least recently used first. */
  private readonly names = new Map<string, string>();
  private evicted: string[] = [];
  private next = 1;

  constructor(private readonly max = 256) {}

  /** How many statements are prepared. */
  get size(): number {
    return this.names.size;
  }

  /** The unit rewritten to use the cache, or undefined when it is not a single unnamed statement. */
  plan(messages: Buffer[]): CachePlan | undefined {
    const first = messages[0];
    if (!first || first[0] !== F.parse || parseName(first) !== '') return undefined;
    for (let i = 1; i < messages.length; i++) if (messages[i]![0] === F.parse) return undefined;
    const key = parseKey(first);
    const cached = this.names.get(key);
    const name = cached ?? `rw_cached_${this.next++}`;
    const rest = messages.slice(1).map((m) => useStatement(m, name));
    if (cached) {
      this.names.delete(key);
      this.names.set(key, name);
      return { messages: rest, key, name, hit: true };
    }
    return { messages: [parseAs(first, name), ...rest], key, name, hit: false };
  }

  /** After the unit ran: what the client gets, with what the cache learnt applied. */
  settle(plan: CachePlan, answer: Answer): Buffer {
    if (!plan.hit) {
      if (answer.parsed) {
        this.names.set(plan.key, plan.name);
        if (this.names.size > this.max) {
          const [oldKey, oldName] = this.names.entries().next().value as [string, string];
          this.names.delete(oldKey);
          this.evicted.push(oldName);
        }
      }
      return answer.bytes;
    }
    if (answer.errorCode && STALE.has(answer.errorCode) && this.names.get(plan.key) === plan.name) {
      this.names.delete(plan.key);
      if (answer.errorCode !== '26000') this.evicted.push(plan.name);
    }
    return Buffer.concat([PARSE_COMPLETE, answer.bytes]);
  }

  /** Forgets every statement (the schema may change): they are closed when the session is idle. */
  clear(): void {
    this.evicted.push(...this.names.values());
    this.names.clear();
  }

  /** Statements to close on the session (when no transaction holds it). */
  takeEvicted(): string[] {
    const out = this.evicted;
    this.evicted = [];
    return out;
  }
}

/**
 * LISTEN on PostgreSQL: one dedicated connection per Db, outside the pool, shared by every
 * channel. A pooled connection would be taken from the queries and could be handed back with
 * its LISTENs still active. When the connection drops it is reopened and every channel listened
 * again; notifications sent in between are lost, so each listener is told when the connection
 * goes (`onState(false)`: poll meanwhile) and when it is back (`onState(true)`: look once for
 * what was missed).
 * Reconnecting backs off with jitter; the outage log says once that the database went away and
 * once that it is back, not once per try.
 */
import pg from 'pg';
import type { Logger } from '../log.js';
import { reconnectDelay, type OutageLog } from './outage.js';

type Handler = (payload: string) => void;
/** Told false when the listening connection is lost, true once every channel is listened again. */
export type StateHandler = (up: boolean) => void;

export class Listener {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly channels = new Map<string, Set<Handler>>();
  private readonly states = new Set<StateHandler>();
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connect: () => pg.Client,
    private readonly logger: Logger,
    private readonly outage?: OutageLog,
  ) {}

  /** Whether the listening connection is up (every channel listened). */
  get up(): boolean {
    return this.client !== undefined && !this.closed;
  }

  async listen(channel: string, handler: Handler, onState?: StateHandler): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('listen() after close()');
    let handlers = this.channels.get(channel);
    const first = !handlers;
    if (!handlers) {
      handlers = new Set();
      this.channels.set(channel, handlers);
    }
    handlers.add(handler);
    if (first) {
      try {
        const client = await this.ensureClient();
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        handlers.delete(handler);
        if (handlers.size === 0) this.channels.delete(channel);
        throw err;
      }
    }
    if (onState) this.states.add(onState);
    return async () => {
      if (onState) this.states.delete(onState);
      const set = this.channels.get(channel);
      if (!set?.delete(handler) || set.size > 0) return;
      this.channels.delete(channel);
      await this.client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.channels.clear();
    this.states.clear();
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private ensureClient(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = this.connect();
      client.on('notification', (m) => {
        for (const h of this.channels.get(m.channel) ?? []) {
          try {
            h(m.payload ?? '');
          } catch (err) {
            this.logger.error({ err, channel: m.channel }, 'notification handler failed');
          }
        }
      });
      client.on('error', (err) => this.dropped(client, err));
      client.on('end', () => this.dropped(client));
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      } finally {
        this.connecting = undefined;
      }
      this.client = client;
      this.failures = 0;
      this.outage?.succeeded();
      return client;
    })();
    return this.connecting;
  }

  private dropped(client: pg.Client, err?: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    // Ending it for sure: a client that saw an error is not reused, and must not hold a socket.
    void client.end().catch(() => undefined);
    if (this.outage) this.outage.failed(err ?? new Error('listening connection ended'));
    else this.logger.warn({ err }, 'listening connection lost; reconnecting');
    this.tell(false);
    this.scheduleReconnect();
  }

  private tell(up: boolean): void {
    for (const h of [...this.states]) {
      try {
        h(up);
      } catch (err) {
        this.logger.error({ err }, 'listener state handler failed');
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.channels.size === 0) return;
    const delay = reconnectDelay(this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      void this.ensureClient()
        .then(async (client) => {
          for (const channel of this.channels.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
          this.tell(true);
        })
        .catch((err: unknown) => {
          if (this.outage) this.outage.failed(err);
          else this.logger.warn({ err }, 'reconnecting the listening connection failed');
          this.scheduleReconnect();
        });
    }, delay);
    // A reconnect alone must not keep the process alive.
    this.retryTimer.unref();
  }
}

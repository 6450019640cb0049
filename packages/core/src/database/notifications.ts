import { Client } from 'pg';
import type { Logger } from '../logger/logger';

/** Called with each notification's payload. */
export type NotificationHandler = (payload: string) => void;

interface Subscription {
  channel: string;
  onMessage: NotificationHandler;
  /** Called when the connection was lost and came back: messages may have been missed meanwhile. */
  onReset?: () => void;
}

/** PostgreSQL's limit on a NOTIFY payload is 8000 bytes; stay under it. */
export const MAX_NOTIFY_PAYLOAD = 7900;

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const HEARTBEAT_MS = 30_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL LISTEN/NOTIFY, for telling the other server processes that something they cache
 * changed (a new model version, catalog rows, a profile's interactions). One dedicated connection
 * per process, opened on the first `listen`, reconnected with backoff when it drops; after a
 * reconnect every subscriber's `onReset` runs, because notifications sent while it was down are
 * lost. Until the first connection is up, and while it is down, {@link listening} is false:
 * caches that rely on notifications must not serve from memory then.
 */
export class Notifications {
  private client: Client | null = null;
  private readonly subs = new Set<Subscription>();
  private connecting: Promise<void> | null = null;
  private retryMs = 500;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private up = false;
  private everUp = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly notifyVia: (sql: string, params: unknown[]) => Promise<unknown>,
    private readonly logger?: Logger,
  ) {}

  /** True while the listening connection is up (notifications are being received). */
  get listening(): boolean {
    return this.up;
  }

  /**
   * Subscribes to `channel` (lower-case identifier). Resolves once the LISTEN is in place (or the
   * first attempt failed: retries continue in the background). Returns the unsubscribe function.
   */
  async listen(channel: string, onMessage: NotificationHandler, onReset?: () => void): Promise<() => void> {
    if (!CHANNEL.test(channel)) throw new RangeError(`channel must match ${CHANNEL}, got "${channel}"`);
    const sub: Subscription = { channel, onMessage, onReset };
    this.subs.add(sub);
    if (this.client && this.up) await this.client.query(`LISTEN ${channel}`).catch((err: unknown) => this.lost(err));
    else await this.connect();
    return () => {
      this.subs.delete(sub);
    };
  }

  /** Sends `payload` on `channel` to every listening process, this one included. */
  async notify(channel: string, payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > MAX_NOTIFY_PAYLOAD) throw new RangeError(`notification payload over ${MAX_NOTIFY_PAYLOAD} bytes`);
    await this.notifyVia('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.up = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.connecting ??= (async () => {
      // keepAlive: the connection only ever reads, so a half-open socket (NAT timeout, failover)
      // would otherwise never error; the heartbeat below notices a server that stopped answering.
      const client = new Client({ connectionString: this.url, application_name: 'rapport-listen', keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
      client.on('notification', (m) => {
        for (const s of this.subs) {
          if (s.channel !== m.channel) continue;
          try {
            s.onMessage(m.payload ?? '');
          } catch (err) {
            this.logger?.warn({ err, channel: m.channel }, 'notification handler failed');
          }
        }
      });
      // Only this client's own failures count (a late error from a replaced client must not reset).
      client.on('error', (err) => (this.client === client || this.client === null) && this.lost(err));
      client.on('end', () => (this.client === client || this.client === null) && this.lost(new Error('connection ended')));
      try {
        await client.connect();
        // Channels subscribed while connecting are picked up by the next round.
        const done = new Set<string>();
        for (let todo = this.channels(); todo.length; todo = this.channels().filter((c) => !done.has(c))) {
          for (const channel of todo) {
            await client.query(`LISTEN ${channel}`);
            done.add(channel);
          }
        }
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        return;
      }
      const wasReset = this.everUp;
      this.client = client;
      this.up = true;
      this.everUp = true;
      this.retryMs = 500;
      this.heartbeat ??= setInterval(() => void this.beat(), HEARTBEAT_MS);
      this.heartbeat.unref();
      if (wasReset) {
        this.logger?.info('notifications: listening again; caches reset');
        for (const s of this.subs) s.onReset?.();
      }
    })()
      .catch((err: unknown) => {
        this.connecting = null;
        this.lost(err);
      })
      .finally(() => (this.connecting = null));
    return this.connecting;
  }

  private channels(): string[] {
    return [...new Set([...this.subs].map((s) => s.channel))];
  }

  /** A query on the listening connection; no answer within the timeout counts as a lost connection. */
  private async beat(): Promise<void> {
    const c = this.client;
    if (!c || !this.up) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('heartbeat timed out')), HEARTBEAT_TIMEOUT_MS))),
      ]);
    } catch (err) {
      if (this.client === c) this.lost(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private lost(err: unknown): void {
    if (this.closed) return;
    const wasUp = this.up;
    this.up = false;
    if (wasUp) {
      this.logger?.warn({ err }, 'notifications: listening connection lost; reconnecting');
      for (const s of this.subs) s.onReset?.();
    }
    const c = this.client;
    this.client = null;
    c?.end().catch(() => undefined);
    if (this.retryTimer || this.connecting) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, wait);
    this.retryTimer.unref();
  }
}

import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Database } from '../database/database';
import type { Logger } from '../logger/logger';
import type { DeliveryMetrics } from '../metrics/core.metrics';
import type { DeliveryTransport, TransportRow } from './delivery-transport';
import { PostgresDeliveryTransport } from './postgres.transport';
import type { DeliveryOptions } from './delivery.config';
import type { RequestLoad } from './request-load';
import { isEventField } from '../service/event.service';
import { CHANGE_KINDS, type Change, type ChangeKind, type DeadLetter, type DeliveryStatus, type DeliverySubscription, type EventSelection } from './delivery.types';
export type { DeliveryOptions } from './delivery.config';

interface Consumer {
  name: string;
  sub: DeliverySubscription<unknown>;
  ctx: unknown;
  kinds: Set<ChangeKind>;
  batchSize: number;
  maxAttempts: number;
  /** The batch size now: halved while a batch fails, to isolate the failing change. */
  limit: number;
  running: Promise<void> | null;
  again: boolean;
  /** Since when (Date.now()) every batch claimed was full: the consumer is behind. Null once one was not. */
  behindSince: number | null;
  retryTimer: NodeJS.Timeout | null;
}

const MAX_ERROR = 2000;
/** Longest a delivery waits at once while stepping back, and how often it looks whether the requests still saturate the path (ms). */
const STEP_BACK_MAX_WAIT_MS = 10_000;
const STEP_BACK_LOOK_MS = 100;

/** A plugin's `selectEvents` threw or answered something that is not a selection: the batch fails as a handler's would. */
class SelectionError extends Error {
  override name = 'SelectionError';
}

function describe(err: unknown): string {
  const m = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return m.length > MAX_ERROR ? `${m.slice(0, MAX_ERROR)}…` : m;
}

/**
 * Delivers the outbox to plugins' {@link DeliverySubscription}s.
 *
 * Each consumer (a plugin) has a cursor row. A process takes a short lease on it, reads the next
 * batch in commit order below the oldest running transaction, hands it to the plugin, and moves the
 * cursor only after the plugin returned: a crash anywhere before that delivers the batch again
 * (at-least-once); a lease keeps two processes from delivering one consumer's changes at once, so
 * changes arrive in order. A failing batch is halved until the failing change is alone; that one is
 * retried with backoff and finally dead-lettered, and the consumer moves on.
 */
export class EventDelivery {
  private readonly consumers: Consumer[];
  private readonly me = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly stepBackShare: number;
  private readonly stepBackMaxMs: number;
  /** Deliveries wait until then while stepping back (performance.now()): shared, so all plugins together keep the share. */
  private steppedBackUntil = 0;
  private readonly waking = new Set<() => void>();
  private poll: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly transport: DeliveryTransport;
  private metrics: DeliveryMetrics | null = null;

  constructor(
    private readonly db: Database,
    subscriptions: Array<{ name: string; subscription: DeliverySubscription<never>; ctx: unknown }>,
    private readonly logger: Logger,
    options: DeliveryOptions = {},
    /** Where changes and positions live; PostgreSQL (the outbox) unless another is given. */
    transport?: DeliveryTransport,
    /** This process's request path: deliveries behind step back while it is saturated. None: they never do. */
    private readonly requests: RequestLoad | null = null,
  ) {
    this.transport = transport ?? new PostgresDeliveryTransport(db);
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.stepBackShare = options.stepBackShare ?? 0.1; // from 0.01 to 1: the config's schema checks it
    this.stepBackMaxMs = options.stepBackMaxMs ?? 30_000;
    this.consumers = subscriptions.map(({ name, subscription, ctx }) => {
      const sub = subscription as DeliverySubscription<unknown>;
      const batchSize = sub.batchSize ?? 100;
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw new RangeError(`plugin ${name}: delivery.batchSize must be an integer from 1 to 1000, got ${batchSize}`);
      const maxAttempts = sub.maxAttempts ?? 8;
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`plugin ${name}: delivery.maxAttempts must be a positive integer, got ${maxAttempts}`);
      for (const k of sub.kinds ?? []) if (!CHANGE_KINDS.includes(k)) throw new RangeError(`plugin ${name}: delivery.kinds: "${k}" is not a kind; kinds are ${CHANGE_KINDS.join(', ')}`);
      for (const f of sub.eventFields ?? []) if (!isEventField(f)) throw new RangeError(`plugin ${name}: delivery.eventFields: "${String(f)}" is not an event field`);
      if (sub.from !== undefined && sub.from !== 'history' && sub.from !== 'now') throw new RangeError(`plugin ${name}: delivery.from must be "history" or "now", got "${String(sub.from)}"`);
      return { name, sub, ctx, kinds: new Set(sub.kinds ?? CHANGE_KINDS), batchSize, maxAttempts, limit: batchSize, running: null, again: false, behindSince: null, retryTimer: null };
    });
  }

  /** Counts deliveries and failures in `metrics` from now on. */
  countWith(metrics: DeliveryMetrics): void {
    this.metrics = metrics;
  }

  /** The consumers' names. */
  get names(): string[] {
    return this.consumers.map((c) => c.name);
  }

  /** Creates missing cursors (at the start of history or now, as each plugin asks) and starts delivering. */
  async start(): Promise<void> {
    for (const c of this.consumers) await this.transport.open(c.name, c.sub.from === 'history' ? 'history' : 'now');
    if (!this.consumers.length) return;
    this.stopped = false;
    this.poll = setInterval(() => this.kick(), this.pollMs);
    this.poll.unref();
    this.kick();
  }

  /** Asks every consumer to look for new changes now (called after this process commits some). */
  kick(): void {
    if (this.stopped) return;
    for (const c of this.consumers) {
      if (c.running) {
        c.again = true;
        continue;
      }
      // Delivery's connections (its own statements and the plugin's handler) are taken ahead of waiting requests, so a
      // round is not stuck behind a queue of them; between rounds a plugin behind steps back while the requests need
      // the machine (stepBack). One round at a time per plugin: a few connections at most.
      const drain = () => this.drain(c);
      c.running = (typeof this.db?.ahead === 'function' ? this.db.ahead(drain) : drain()).finally(() => {
        c.running = null;
        if (c.again && !this.stopped) {
          c.again = false;
          this.kick();
        }
      });
    }
  }

  private async drain(c: Consumer): Promise<void> {
    try {
      while (!this.stopped) {
        const began = performance.now();
        if (!(await this.round(c))) break;
        await this.stepBack(c, performance.now() - began);
      }
    } catch (err) {
      // The database is unreachable or failing: the next poll tries again.
      this.logger.warn({ err: describe(err), consumer: c.name }, 'event delivery paused: the database failed');
    }
  }

  /** Delivers one batch. True when the cursor moved (there may be more). */
  private async round(c: Consumer): Promise<boolean> {
    const claim = await this.transport.claim(c.name, this.me, this.leaseMs, c.limit);
    if (!claim) return false; // another process holds it, or the head is backing off
    const { rows } = claim;
    if (rows.length < c.limit) c.behindSince = null;
    else c.behindSince ??= Date.now();
    if (!rows.length) {
      await this.transport.release(c.name, this.me);
      return false;
    }
    const wanted = rows.filter((r) => c.kinds.has(r.kind));
    let changes: Change[];
    try {
      changes = wanted.length ? await this.transport.load(wanted, c.sub.eventFields, await this.selection(c, wanted)) : [];
    } catch (err) {
      if (!(err instanceof SelectionError)) throw err;
      return this.failed(c, rows, err, claim.attempts);
    }
    // A plugin may take longer than a lease: renew it while the batch is in hand, so no other
    // process takes the consumer and delivers the same changes at the same time, out of order.
    const renewal = setInterval(() => {
      this.transport.renew(c.name, this.me, this.leaseMs).catch((err: unknown) => this.logger.warn({ consumer: c.name, err: describe(err) }, 'event delivery: renewing the lease failed'));
    }, Math.max(50, Math.floor(this.leaseMs / 3)));
    renewal.unref();
    try {
      if (changes.length) await c.sub.handle(changes, c.ctx);
    } catch (err) {
      return this.failed(c, rows, err, claim.attempts);
    } finally {
      clearInterval(renewal);
    }
    if (!(await this.transport.advance(c.name, this.me, rows.at(-1)!, changes.length))) {
      this.logger.warn({ consumer: c.name }, 'event delivery: the lease ran out while the plugin handled a batch; another process may deliver it again');
    }
    if (changes.length) this.metrics?.delivered(c.name, changes.length);
    c.limit = Math.min(c.batchSize, c.limit * 2); // back to full batches after isolating a failure
    return true;
  }

  /**
   * After a round of `roundMs` that left the consumer behind: while the request path is saturated, waits so that
   * deliveries run at most `stepBackShare` of the time (a wait of `roundMs * (1 - share) / share`, counted across
   * plugins, at most {@link STEP_BACK_MAX_WAIT_MS}), until the consumer has been behind for longer than
   * `stepBackMaxMs`. The wait ends as soon as the requests no longer saturate the path (looked at every
   * {@link STEP_BACK_LOOK_MS}), so the plugins catch up as soon as a burst is over.
   */
  private async stepBack(c: Consumer, roundMs: number): Promise<void> {
    const behindSince = c.behindSince;
    if (this.stepBackShare >= 1 || behindSince === null || !this.requests?.saturated()) return;
    if (Date.now() - behindSince > this.stepBackMaxMs) return;
    const began = performance.now();
    const owed = (roundMs * (1 - this.stepBackShare)) / this.stepBackShare;
    this.steppedBackUntil = Math.min(began + STEP_BACK_MAX_WAIT_MS, Math.max(this.steppedBackUntil, began) + owed);
    for (let now = began; !this.stopped && now < this.steppedBackUntil; ) {
      await this.nap(Math.min(STEP_BACK_LOOK_MS, this.steppedBackUntil - now));
      // Counted as it goes: a scrape during a long wait sees it.
      const after = performance.now();
      this.metrics?.steppedBack(c.name, (after - now) / 1000);
      now = after;
      if (!this.requests.saturated()) {
        this.steppedBackUntil = 0; // the burst is over: what deliveries owed it is forgiven
        break;
      }
      if (Date.now() - behindSince > this.stepBackMaxMs) break;
    }
  }

  /** Waits `ms`, or until {@link stop}. */
  private nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waking.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waking.add(wake);
    });
  }

  /** The events the plugin selects for this batch (null: all, or no event in it). A bad answer is the plugin's failure. */
  private async selection(c: Consumer, rows: TransportRow[]): Promise<EventSelection | null> {
    if (!c.sub.selectEvents || !rows.some((r) => r.kind === 'event')) return null;
    let s: EventSelection | null;
    try {
      s = await c.sub.selectEvents(c.ctx);
    } catch (err) {
      throw new SelectionError(`delivery.selectEvents failed: ${describe(err)}`);
    }
    if (s === null || s === undefined) return null;
    const list = (v: unknown, field: string): readonly string[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new SelectionError(`delivery.selectEvents: ${field} must be a list of strings`);
      return v as string[];
    };
    return { types: list(s.types, 'types'), names: list(s.names, 'names') };
  }

  private async failed(c: Consumer, rows: TransportRow[], err: unknown, attempts: number): Promise<boolean> {
    const error = describe(err);
    this.metrics?.failed(c.name, rows.length === 1 && attempts + 1 >= c.maxAttempts ? 'dead_letter' : 'retry');
    if (rows.length > 1) {
      // Find the failing change: retry at once with half the batch (what came before it is delivered meanwhile).
      c.limit = Math.max(1, Math.floor(rows.length / 2));
      this.logger.warn({ consumer: c.name, batch: rows.length, err: error }, 'plugin failed on a batch; retrying smaller batches');
      await this.transport.release(c.name, this.me, error);
      return true;
    }
    const row = rows[0];
    const tries = attempts + 1;
    if (tries >= c.maxAttempts) {
      await this.transport.deadLetter(c.name, this.me, row, error, tries);
      this.logger.error({ consumer: c.name, seq: row.id, kind: row.kind, attempts: tries, err: error }, 'plugin kept failing on a change; dead-lettered it and moved on');
      c.limit = c.batchSize;
      return true;
    }
    const wait = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (tries - 1));
    await this.transport.retryLater(c.name, this.me, tries, error, wait);
    this.logger.warn({ consumer: c.name, seq: row.id, kind: row.kind, attempt: tries, retryInMs: wait, err: error }, 'plugin failed on a change; retrying');
    if (c.retryTimer) clearTimeout(c.retryTimer);
    c.retryTimer = setTimeout(() => this.kick(), wait + 5);
    c.retryTimer.unref();
    return false;
  }

  /** Where each consumer stands. */
  async status(): Promise<DeliveryStatus[]> {
    if (!this.consumers.length) return [];
    return this.transport.status(this.names);
  }

  /** Dead letters, oldest first; `consumer` narrows to one plugin, `includeReplayed` adds the replayed ones. */
  deadLetters(opts: { consumer?: string | null; first?: number; includeReplayed?: boolean } = {}): Promise<DeadLetter[]> {
    return this.transport.deadLetters(opts);
  }

  /**
   * Hands dead letters to their plugins again, one at a time. Each one the plugin now accepts is
   * marked replayed; one it fails on again keeps its letter, with the new error.
   */
  async replay(ids: string[]): Promise<Array<{ id: string; replayed: boolean; error: string | null }>> {
    const out: Array<{ id: string; replayed: boolean; error: string | null }> = [];
    for (const l of await this.transport.letters(ids)) {
      const c = this.consumers.find((x) => x.name === l.consumer);
      if (!c) {
        out.push({ id: l.id, replayed: false, error: `no plugin named "${l.consumer}" is installed` });
        continue;
      }
      try {
        const changes = await this.transport.load([l.row], c.sub.eventFields, await this.selection(c, [l.row]));
        if (changes.length) await c.sub.handle(changes, c.ctx);
        await this.transport.replayed(l.id, null);
        out.push({ id: l.id, replayed: true, error: null });
      } catch (err) {
        const error = describe(err);
        await this.transport.replayed(l.id, error);
        out.push({ id: l.id, replayed: false, error });
      }
    }
    return out;
  }

  /** Stops delivering: waits (at most `graceMs`) for batches in hand, then gives up this process's leases. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    for (const c of this.consumers) if (c.retryTimer) clearTimeout(c.retryTimer);
    for (const wake of [...this.waking]) wake();
    const inHand = this.consumers.map((c) => c.running).filter((p): p is Promise<void> => p !== null);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(inHand), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.transport.releaseAll(this.me).catch(() => undefined);
  }
}

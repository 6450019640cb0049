import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Database } from '../database/database';
import type { Logger } from '../logger/logger';
import { loadChanges, type OutboxRow } from './change-loader';
import type { DeliveryOptions } from './delivery.config';
import { CHANGE_KINDS, type ChangeKind, type DeadLetter, type DeliveryStatus, type DeliverySubscription } from './delivery.types';
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
  retryTimer: NodeJS.Timeout | null;
}

const MAX_ERROR = 2000;

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
  private poll: NodeJS.Timeout | null = null;
  private stopped = true;

  constructor(
    private readonly db: Database,
    subscriptions: Array<{ name: string; subscription: DeliverySubscription<never>; ctx: unknown }>,
    private readonly logger: Logger,
    options: DeliveryOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.consumers = subscriptions.map(({ name, subscription, ctx }) => {
      const sub = subscription as DeliverySubscription<unknown>;
      const batchSize = sub.batchSize ?? 100;
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw new RangeError(`plugin ${name}: delivery.batchSize must be an integer from 1 to 1000, got ${batchSize}`);
      const maxAttempts = sub.maxAttempts ?? 8;
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`plugin ${name}: delivery.maxAttempts must be a positive integer, got ${maxAttempts}`);
      for (const k of sub.kinds ?? []) if (!CHANGE_KINDS.includes(k)) throw new RangeError(`plugin ${name}: delivery.kinds: "${k}" is not a kind; kinds are ${CHANGE_KINDS.join(', ')}`);
      if (sub.from !== undefined && sub.from !== 'history' && sub.from !== 'now') throw new RangeError(`plugin ${name}: delivery.from must be "history" or "now", got "${String(sub.from)}"`);
      return { name, sub, ctx, kinds: new Set(sub.kinds ?? CHANGE_KINDS), batchSize, maxAttempts, limit: batchSize, running: null, again: false, retryTimer: null };
    });
  }

  /** The consumers' names. */
  get names(): string[] {
    return this.consumers.map((c) => c.name);
  }

  /** Creates missing cursors (at the start of history or now, as each plugin asks) and starts delivering. */
  async start(): Promise<void> {
    for (const c of this.consumers) {
      await this.db.query(
        `INSERT INTO rapport_delivery_cursor (consumer, tx, id)
         VALUES ($1, CASE WHEN $2 THEN '0'::xid8 ELSE pg_snapshot_xmin(pg_current_snapshot()) END, 0)
         ON CONFLICT (consumer) DO NOTHING`,
        [c.name, c.sub.from === 'history'],
      );
    }
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
      c.running = this.drain(c).finally(() => {
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
      while (!this.stopped && (await this.round(c)));
    } catch (err) {
      // The database is unreachable or failing: the next poll tries again.
      this.logger.warn({ err: describe(err), consumer: c.name }, 'event delivery paused: the database failed');
    }
  }

  /** Delivers one batch. True when the cursor moved (there may be more). */
  private async round(c: Consumer): Promise<boolean> {
    const [lease] = await this.db.query<{ tx: string; id: string; attempts: number }>(
      `UPDATE rapport_delivery_cursor SET leased_by = $2, lease_until = now() + make_interval(secs => $3), updated_at = now()
       WHERE consumer = $1 AND (lease_until IS NULL OR lease_until < now() OR leased_by = $2)
         AND (next_attempt_at IS NULL OR next_attempt_at <= now())
       RETURNING tx::text AS tx, id::text AS id, attempts`,
      [c.name, this.me, this.leaseMs / 1000],
    );
    if (!lease) return false; // another process holds it, or the head is backing off
    const rows = await this.db.query<OutboxRow>(
      `SELECT o.id::text AS id, o.tx::text AS tx, o.kind, o.ref, o.profile_id FROM rapport_outbox o
       WHERE (o.tx, o.id) > ($1::xid8, $2::bigint) AND o.tx < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY o.tx, o.id LIMIT $3`,
      [lease.tx, lease.id, c.limit],
    );
    if (!rows.length) {
      await this.release(c);
      return false;
    }
    const wanted = rows.filter((r) => c.kinds.has(r.kind));
    const changes = wanted.length ? await loadChanges(this.db, wanted) : [];
    try {
      if (changes.length) await c.sub.handle(changes, c.ctx);
    } catch (err) {
      return this.failed(c, rows, err, lease.attempts);
    }
    await this.advance(c, rows.at(-1)!, changes.length);
    c.limit = Math.min(c.batchSize, c.limit * 2); // back to full batches after isolating a failure
    return true;
  }

  private async advance(c: Consumer, last: OutboxRow, delivered: number): Promise<void> {
    const moved = await this.db.query(
      `UPDATE rapport_delivery_cursor SET tx = $2::xid8, id = $3, delivered = delivered + $4, attempts = 0, last_error = NULL,
         next_attempt_at = NULL, leased_by = NULL, lease_until = NULL, updated_at = now()
       WHERE consumer = $1 AND leased_by = $5 RETURNING 1`,
      [c.name, last.tx, last.id, delivered, this.me],
    );
    if (!moved.length) this.logger.warn({ consumer: c.name }, 'event delivery: the lease ran out while the plugin handled a batch; another process may deliver it again');
  }

  private async release(c: Consumer): Promise<void> {
    await this.db.query(`UPDATE rapport_delivery_cursor SET leased_by = NULL, lease_until = NULL WHERE consumer = $1 AND leased_by = $2`, [c.name, this.me]);
  }

  private async failed(c: Consumer, rows: OutboxRow[], err: unknown, attempts: number): Promise<boolean> {
    const error = describe(err);
    if (rows.length > 1) {
      // Find the failing change: retry at once with half the batch (what came before it is delivered meanwhile).
      c.limit = Math.max(1, Math.floor(rows.length / 2));
      this.logger.warn({ consumer: c.name, batch: rows.length, err: error }, 'plugin failed on a batch; retrying smaller batches');
      await this.db.query(`UPDATE rapport_delivery_cursor SET last_error = $2, leased_by = NULL, lease_until = NULL WHERE consumer = $1 AND leased_by = $3`, [c.name, error, this.me]);
      return true;
    }
    const row = rows[0];
    const tries = attempts + 1;
    if (tries >= c.maxAttempts) {
      await this.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO rapport_dead_letter (consumer, outbox_id, kind, ref, profile_id, error, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [c.name, row.id, row.kind, row.ref, row.profile_id, error, tries],
        );
        await tx.query(
          `UPDATE rapport_delivery_cursor SET tx = $2::xid8, id = $3, attempts = 0, last_error = $4, next_attempt_at = NULL,
             leased_by = NULL, lease_until = NULL, updated_at = now() WHERE consumer = $1 AND leased_by = $5`,
          [c.name, row.tx, row.id, error, this.me],
        );
      });
      this.logger.error({ consumer: c.name, seq: row.id, kind: row.kind, attempts: tries, err: error }, 'plugin kept failing on a change; dead-lettered it and moved on');
      c.limit = c.batchSize;
      return true;
    }
    const wait = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (tries - 1));
    await this.db.query(
      `UPDATE rapport_delivery_cursor SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4),
         leased_by = NULL, lease_until = NULL, updated_at = now() WHERE consumer = $1 AND leased_by = $5`,
      [c.name, tries, error, wait / 1000, this.me],
    );
    this.logger.warn({ consumer: c.name, seq: row.id, kind: row.kind, attempt: tries, retryInMs: wait, err: error }, 'plugin failed on a change; retrying');
    if (c.retryTimer) clearTimeout(c.retryTimer);
    c.retryTimer = setTimeout(() => this.kick(), wait + 5);
    c.retryTimer.unref();
    return false;
  }

  /** Where each consumer stands. */
  async status(): Promise<DeliveryStatus[]> {
    if (!this.consumers.length) return [];
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT c.consumer, c.delivered::float8 AS delivered, c.attempts, c.last_error, c.next_attempt_at,
              (SELECT count(*) FROM (SELECT 1 FROM rapport_outbox o WHERE (o.tx, o.id) > (c.tx, c.id) LIMIT 100000) x)::int AS lag,
              COALESCE((SELECT extract(epoch FROM now() - o.at) FROM rapport_outbox o WHERE (o.tx, o.id) > (c.tx, c.id) ORDER BY o.tx, o.id LIMIT 1), 0)::float8 AS lag_seconds,
              (SELECT count(*) FROM rapport_dead_letter l WHERE l.consumer = c.consumer AND l.replayed_at IS NULL)::int AS dead
       FROM rapport_delivery_cursor c WHERE c.consumer = ANY($1) ORDER BY c.consumer`,
      [this.names],
    );
    return rows.map((r) => ({
      consumer: String(r.consumer), delivered: Number(r.delivered), lag: Number(r.lag), lagSeconds: Math.max(0, Number(r.lag_seconds)),
      attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null, nextAttemptAt: (r.next_attempt_at as Date | null) ?? null, deadLetters: Number(r.dead),
    }));
  }

  /** Dead letters, oldest first; `consumer` narrows to one plugin, `includeReplayed` adds the replayed ones. */
  async deadLetters(opts: { consumer?: string | null; first?: number; includeReplayed?: boolean } = {}): Promise<DeadLetter[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT id::text, consumer, kind, outbox_id::text AS seq, profile_id, error, attempts, created_at, replayed_at FROM rapport_dead_letter
       WHERE ($1::text IS NULL OR consumer = $1) AND ($2 OR replayed_at IS NULL) ORDER BY id LIMIT $3`,
      [opts.consumer ?? null, opts.includeReplayed ?? false, Math.min(Math.max(opts.first ?? 100, 1), 1000)],
    );
    return rows.map((r) => ({
      id: String(r.id), consumer: String(r.consumer), kind: r.kind as ChangeKind, seq: String(r.seq), profileId: (r.profile_id as string | null) ?? null,
      error: String(r.error), attempts: Number(r.attempts), createdAt: r.created_at as Date, replayedAt: (r.replayed_at as Date | null) ?? null,
    }));
  }

  /**
   * Hands dead letters to their plugins again, one at a time. Each one the plugin now accepts is
   * marked replayed; one it fails on again keeps its letter, with the new error.
   */
  async replay(ids: string[]): Promise<Array<{ id: string; replayed: boolean; error: string | null }>> {
    const letters = await this.db.query<Record<string, unknown>>(
      `SELECT id::text, consumer, outbox_id::text AS outbox_id, kind, ref, profile_id FROM rapport_dead_letter WHERE id = ANY($1::bigint[]) AND replayed_at IS NULL ORDER BY id`,
      [ids.filter((i) => /^\d{1,18}$/.test(i))],
    );
    const out: Array<{ id: string; replayed: boolean; error: string | null }> = [];
    for (const l of letters) {
      const id = String(l.id);
      const c = this.consumers.find((x) => x.name === l.consumer);
      if (!c) {
        out.push({ id, replayed: false, error: `no plugin named "${String(l.consumer)}" is installed` });
        continue;
      }
      const row: OutboxRow = { id: String(l.outbox_id), tx: '0', kind: l.kind as ChangeKind, ref: String(l.ref), profile_id: (l.profile_id as string | null) ?? null };
      try {
        const changes = await loadChanges(this.db, [row]);
        if (changes.length) await c.sub.handle(changes, c.ctx);
        await this.db.query('UPDATE rapport_dead_letter SET replayed_at = now() WHERE id = $1', [id]);
        out.push({ id, replayed: true, error: null });
      } catch (err) {
        const error = describe(err);
        await this.db.query('UPDATE rapport_dead_letter SET error = $2, attempts = attempts + 1 WHERE id = $1', [id, error]);
        out.push({ id, replayed: false, error });
      }
    }
    return out;
  }

  /** Stops delivering: waits (at most `graceMs`) for batches in hand, then gives up this process's leases. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    for (const c of this.consumers) if (c.retryTimer) clearTimeout(c.retryTimer);
    const inHand = this.consumers.map((c) => c.running).filter((p): p is Promise<void> => p !== null);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(inHand), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    await this.db.query(`UPDATE rapport_delivery_cursor SET leased_by = NULL, lease_until = NULL WHERE leased_by = $1`, [this.me]).catch(() => undefined);
  }
}

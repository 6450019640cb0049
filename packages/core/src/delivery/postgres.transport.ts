import type { Database } from '../database/database';
import type { EventField } from '../service/event.service';
import { loadChanges } from './change-loader';
import type { Claim, DeliveryTransport, TransportRow } from './delivery-transport';
import type { ChangeKind, DeadLetter, DeliveryStatus, EventSelection } from './delivery.types';

/**
 * The default transport: PostgreSQL. Changes are the outbox rows triggers write in the storing
 * transaction; a consumer's position is `(tx, id)` in `rapport_delivery_cursor`, read only below
 * the oldest running transaction (`pg_snapshot_xmin`), so a row committed late with a smaller id is
 * never skipped. Works on the embedded database.
 */
export class PostgresDeliveryTransport implements DeliveryTransport {
  constructor(private readonly db: Database) {}

  async open(consumer: string, from: 'history' | 'now'): Promise<void> {
    await this.db.query(
      `INSERT INTO rapport_delivery_cursor (consumer, tx, id)
       VALUES ($1, CASE WHEN $2 THEN '0'::xid8 ELSE pg_snapshot_xmin(pg_current_snapshot()) END, 0)
       ON CONFLICT (consumer) DO NOTHING`,
      [consumer, from === 'history'],
    );
  }

  /**
   * One statement (one pooled connection, one round trip): the lease, then the rows after its position. Under load
   * every statement of a round waits its turn for a connection behind the requests being ingested, so a round pays
   * that wait once per statement.
   */
  async claim(consumer: string, owner: string, leaseMs: number, limit: number): Promise<Claim | null> {
    const found = await this.db.query<TransportRow & { attempts: number }>(
      `WITH lease AS (
         UPDATE rapport_delivery_cursor SET leased_by = $2, lease_until = now() + make_interval(secs => $3), updated_at = now()
         WHERE consumer = $1 AND (lease_until IS NULL OR lease_until < now() OR leased_by = $2)
           AND (next_attempt_at IS NULL OR next_attempt_at <= now())
         RETURNING tx, id, attempts)
       SELECT l.attempts, o.id::text AS id, o.tx::text AS tx, o.kind, o.ref, o.profile_id FROM lease l
       LEFT JOIN LATERAL (
         SELECT o.id, o.tx, o.kind, o.ref, o.profile_id FROM rapport_outbox o
         WHERE (o.tx, o.id) > (l.tx, l.id) AND o.tx < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY o.tx, o.id LIMIT $4) o ON true
       ORDER BY o.tx, o.id`,
      [consumer, owner, leaseMs / 1000, limit],
    );
    if (found.length === 0) return null;
    const rows = found.filter((r) => r.id !== null).map(({ id, tx, kind, ref, profile_id }) => ({ id, tx, kind, ref, profile_id }));
    return { attempts: found[0]!.attempts, rows };
  }

  async renew(consumer: string, owner: string, leaseMs: number): Promise<boolean> {
    const kept = await this.db.query(
      `UPDATE rapport_delivery_cursor SET lease_until = now() + make_interval(secs => $3) WHERE consumer = $1 AND leased_by = $2 RETURNING 1`,
      [consumer, owner, leaseMs / 1000],
    );
    return kept.length > 0;
  }

  load(rows: TransportRow[], eventFields?: readonly EventField[], select?: EventSelection | null) {
    return loadChanges(this.db, rows, eventFields, select);
  }

  async advance(consumer: string, owner: string, last: TransportRow, delivered: number): Promise<boolean> {
    const moved = await this.db.query(
      `UPDATE rapport_delivery_cursor SET tx = $2::xid8, id = $3, delivered = delivered + $4, attempts = 0, last_error = NULL,
         next_attempt_at = NULL, leased_by = NULL, lease_until = NULL, updated_at = now()
       WHERE consumer = $1 AND leased_by = $5 RETURNING 1`,
      [consumer, last.tx, last.id, delivered, owner],
    );
    return moved.length > 0;
  }

  async release(consumer: string, owner: string, error?: string): Promise<void> {
    await this.db.query(
      `UPDATE rapport_delivery_cursor SET last_error = COALESCE($3, last_error), leased_by = NULL, lease_until = NULL WHERE consumer = $1 AND leased_by = $2`,
      [consumer, owner, error ?? null],
    );
  }

  async retryLater(consumer: string, owner: string, attempts: number, error: string, waitMs: number): Promise<void> {
    await this.db.query(
      `UPDATE rapport_delivery_cursor SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4),
         leased_by = NULL, lease_until = NULL, updated_at = now() WHERE consumer = $1 AND leased_by = $5`,
      [consumer, attempts, error, waitMs / 1000, owner],
    );
  }

  async deadLetter(consumer: string, owner: string, row: TransportRow, error: string, attempts: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO rapport_dead_letter (consumer, outbox_id, kind, ref, profile_id, error, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [consumer, row.id, row.kind, row.ref, row.profile_id, error, attempts],
      );
      await tx.query(
        `UPDATE rapport_delivery_cursor SET tx = $2::xid8, id = $3, attempts = 0, last_error = $4, next_attempt_at = NULL,
           leased_by = NULL, lease_until = NULL, updated_at = now() WHERE consumer = $1 AND leased_by = $5`,
        [consumer, row.tx, row.id, error, owner],
      );
    });
  }

  async releaseAll(owner: string): Promise<void> {
    await this.db.query(`UPDATE rapport_delivery_cursor SET leased_by = NULL, lease_until = NULL WHERE leased_by = $1`, [owner]);
  }

  async status(consumers: string[]): Promise<DeliveryStatus[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT c.consumer, c.delivered::float8 AS delivered, c.attempts, c.last_error, c.next_attempt_at,
              (SELECT count(*) FROM (SELECT 1 FROM rapport_outbox o WHERE (o.tx, o.id) > (c.tx, c.id) LIMIT 100000) x)::int AS lag,
              COALESCE((SELECT extract(epoch FROM now() - o.at) FROM rapport_outbox o WHERE (o.tx, o.id) > (c.tx, c.id) ORDER BY o.tx, o.id LIMIT 1), 0)::float8 AS lag_seconds,
              (SELECT count(*) FROM rapport_dead_letter l WHERE l.consumer = c.consumer AND l.replayed_at IS NULL)::int AS dead
       FROM rapport_delivery_cursor c WHERE c.consumer = ANY($1) ORDER BY c.consumer`,
      [consumers],
    );
    return rows.map((r) => ({
      consumer: String(r.consumer), delivered: Number(r.delivered), lag: Number(r.lag), lagSeconds: Math.max(0, Number(r.lag_seconds)),
      attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null, nextAttemptAt: (r.next_attempt_at as Date | null) ?? null, deadLetters: Number(r.dead),
    }));
  }

  async deadLetters(opts: { consumer?: string | null; first?: number; includeReplayed?: boolean }): Promise<DeadLetter[]> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT id::text, consumer, kind, outbox_id::text AS seq, profile_id, error, attempts, created_at, replayed_at FROM rapport_dead_letter
       WHERE ($1::text IS NULL OR consumer = $1) AND ($2 OR replayed_at IS NULL) ORDER BY rapport_dead_letter.id LIMIT $3`,
      [opts.consumer ?? null, opts.includeReplayed ?? false, Math.min(Math.max(opts.first ?? 100, 1), 1000)],
    );
    return rows.map((r) => ({
      id: String(r.id), consumer: String(r.consumer), kind: r.kind as ChangeKind, seq: String(r.seq), profileId: (r.profile_id as string | null) ?? null,
      error: String(r.error), attempts: Number(r.attempts), createdAt: r.created_at as Date, replayedAt: (r.replayed_at as Date | null) ?? null,
    }));
  }

  async letters(ids: string[]): Promise<Array<{ id: string; consumer: string; row: TransportRow }>> {
    const rows = await this.db.query<Record<string, unknown>>(
      `SELECT id::text, consumer, outbox_id::text AS outbox_id, kind, ref, profile_id FROM rapport_dead_letter WHERE id = ANY($1::bigint[]) AND replayed_at IS NULL ORDER BY rapport_dead_letter.id`,
      [ids.filter((i) => /^\d{1,18}$/.test(i))],
    );
    return rows.map((l) => ({
      id: String(l.id),
      consumer: String(l.consumer),
      row: { id: String(l.outbox_id), tx: '0', kind: l.kind as ChangeKind, ref: String(l.ref), profile_id: (l.profile_id as string | null) ?? null },
    }));
  }

  async replayed(id: string, error: string | null): Promise<void> {
    if (error === null) await this.db.query('UPDATE rapport_dead_letter SET replayed_at = now() WHERE id = $1', [id]);
    else await this.db.query('UPDATE rapport_dead_letter SET error = $2, attempts = attempts + 1 WHERE id = $1', [id, error]);
  }
}

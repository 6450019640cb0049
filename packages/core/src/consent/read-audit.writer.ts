import type { Queryable } from '../database/database';
import { textArray } from '../database/sql-array.encoder';

/** One request's reads of personal data on one profile (field names may hold any character, commas too). */
export interface ReadAuditEntry {
  keyId: string | null;
  actor: string;
  profileId: string;
  fields: string[];
  purpose: string | null;
  requestId: string;
}

/**
 * Writes the audit log's `read` entries of concurrent requests with one INSERT (one commit), and
 * resolves each caller once its entries are committed: a response that read personal data is
 * still sent only after its audit entry is durable, but 32 concurrent reads cost one write and
 * one WAL flush instead of 32. Entries given before the event loop next reaches its check phase
 * (`setImmediate`) share a statement, at most `maxRows` per statement. A failed write fails every
 * caller of its statement (their responses fail too: no unaudited read of personal data is served).
 */
export class ReadAuditWriter {
  private pending: Array<{ entries: ReadAuditEntry[]; resolve(): void; reject(err: unknown): void }> = [];
  private rows = 0;
  private scheduled = false;
  /** Statements issued and calls answered, for tests and metrics. */
  readonly stats = { writes: 0, calls: 0 };

  constructor(private readonly db: Queryable, private readonly maxRows = 1000) {}

  /** Resolves when the entries are committed. */
  record(entries: ReadAuditEntry[]): Promise<void> {
    if (!entries.length) return Promise.resolve();
    this.stats.calls++;
    return new Promise((resolve, reject) => {
      this.pending.push({ entries, resolve, reject });
      this.rows += entries.length;
      if (this.rows >= this.maxRows) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    this.rows = 0;
    this.stats.writes++;
    const all = batch.flatMap((b) => b.entries);
    // One call of a PL/pgSQL function (migration 1763800000021): its INSERT is planned once per
    // connection, not once per statement; it commits without waiting for the WAL flush.
    Promise.resolve()
      .then(() =>
        this.db.query(
          'SELECT rapport_audit_reads($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[])',
          // Each array as its literal, every element quoted and escaped (ids too, so a malformed one still fails
          // its cast): `pg`'s generic conversion of array parameters escapes element by element with regular expressions.
          [
            textArray(all.map((e) => e.keyId)),
            textArray(all.map((e) => e.actor)),
            textArray(all.map((e) => e.profileId)),
            textArray(all.map((e) => textArray(e.fields))),
            textArray(all.map((e) => e.purpose)),
            textArray(all.map((e) => e.requestId)),
          ],
          // Written alongside nearly every guarded read of personal data: parsed once per connection.
          { prepare: true },
        ),
      )
      .then(
        () => batch.forEach((b) => b.resolve()),
        (err) => batch.forEach((b) => b.reject(err)),
      );
  }
}


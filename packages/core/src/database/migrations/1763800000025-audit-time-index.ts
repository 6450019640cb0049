import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log's time index ascending: `(at, id)` in place of `(at DESC, id DESC)`.
 *
 * Every guarded read of personal data adds rows to `rapport_audit_log`, each newer than the last. In a descending
 * index a new row goes to the leftmost leaf, which PostgreSQL reaches by a descent from the root each time and splits
 * in halves; in an ascending one it goes to the rightmost leaf, which the btree keeps at hand for appends (no descent)
 * and splits leaving the full page full. Measured by `bench/audit-statement.bench.mjs` (a call of 14 rows, as the
 * guard's bench batches them): 197-222 µs of the backend's CPU with the descending index, 155-187 µs with the
 * ascending one, 145-158 µs with none (docs/benchmarks.md). Read backwards, the ascending index gives the same
 * order, so the `auditLog` query (`ORDER BY at DESC, id DESC LIMIT n`) reads it as it read the other.
 *
 * Built in the migration's transaction, which blocks writes to the audit log (and so guarded reads of personal data)
 * while it builds: on a large deployment, create it `CONCURRENTLY` by hand first, under this name, and the migration
 * skips it (`CREATE INDEX CONCURRENTLY rapport_audit_log_at_asc_idx ON rapport_audit_log (at, id)`).
 */
export class AuditTimeIndex1763800000025 implements MigrationInterface {
  name = 'AuditTimeIndex1763800000025';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX IF NOT EXISTS rapport_audit_log_at_asc_idx ON rapport_audit_log (at, id)');
    await q.query('DROP INDEX IF EXISTS rapport_audit_log_at_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX IF NOT EXISTS rapport_audit_log_at_idx ON rapport_audit_log (at DESC, id DESC)');
    await q.query('DROP INDEX IF EXISTS rapport_audit_log_at_asc_idx');
  }
}

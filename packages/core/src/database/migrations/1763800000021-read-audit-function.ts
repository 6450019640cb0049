import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rapport_audit_reads(...)`: the audit log's `read` entries of concurrent requests, written by
 * `ReadAuditWriter` with one call. A PL/pgSQL function keeps its INSERT's plan for the life of the
 * connection, so the write is planned once per pooled connection instead of once per statement (an
 * unnamed statement with unnest and six arrays was parsed and planned on every call). The entries
 * are the same rows as before, in the same table, so the audit log reads as it did.
 *
 * `fields` holds one PostgreSQL array literal per entry (`{"Profile.traits.email"}`), cast here.
 * The commit does not wait for the WAL flush (`synchronous_commit` off for the calling transaction
 * only), as the writer's statement did before: the row is committed before the response is sent.
 */
export class ReadAuditFunction1763800000021 implements MigrationInterface {
  name = 'ReadAuditFunction1763800000021';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rapport_audit_reads(key_ids uuid[], actors text[], profile_ids uuid[], fields text[], purposes text[], request_ids text[])
      RETURNS void LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields, purpose, request_id)
        SELECT x.k, x.a, 'read', x.p, x.f::text[], x.pu, x.r
          FROM unnest(key_ids, actors, profile_ids, fields, purposes, request_ids) AS x(k, a, p, f, pu, r);
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION rapport_audit_reads(uuid[], text[], uuid[], text[], text[], text[])');
  }
}

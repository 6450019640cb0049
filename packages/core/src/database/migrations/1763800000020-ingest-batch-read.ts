import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ingestion's locks and read in one round trip, with a cached plan (issue 14, point 2).
 *
 * `rapport_ingest_read` takes a batch's advisory locks, one per message id (`m:<messageId>`) and per
 * identity a message names (`i:<type>:<value>`), keyed by `hashtextextended` and taken in ascending
 * key order (so concurrent batches that share identities queue instead of deadlocking), and then reads what resolving the batch needs (see `batch-state.reader.ts`): duplicates,
 * suppressed identities, the profiles owning the named identities (`FOR KEY SHARE`, id order) and
 * their identities. It replaces two statements (the locks, then the read), PL/pgSQL keeps the
 * read's plan for the connection instead of planning a six-CTE statement for every batch, and the
 * lock keys are computed here from the ids the read needs anyway (they were hashed in Node and
 * sent as 1,000 more numbers a batch).
 *
 * The function is VOLATILE: under READ COMMITTED each of its statements takes a new snapshot, so
 * the read (after `PERFORM` waited for the locks) sees everything the batches it waited for
 * committed, as when it was a statement of its own. `with_traits` false leaves the profiles'
 * traits and provenance out of the answer (NULL): a batch whose messages can neither set traits
 * nor merge profiles does not need them.
 */
export class IngestBatchRead1763800000020 implements MigrationInterface {
  name = 'IngestBatchRead1763800000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rapport_ingest_read(mids text[], types text[], vals text[], ms int[], with_traits boolean)
      RETURNS TABLE (k text, a text, created_at timestamptz, merged_into uuid, traits jsonb, trait_sources jsonb, version int, stale boolean, ids json)
      LANGUAGE plpgsql VOLATILE AS $fn$
      #variable_conflict use_column
      BEGIN
        -- One lock per message id and per named identity, taken in one global (ascending) order.
        PERFORM pg_advisory_xact_lock(q.key) FROM (
          SELECT DISTINCT hashtextextended(x.s, 0) AS key
            FROM (SELECT 'm:' || m FROM unnest(mids) AS u(m) UNION ALL SELECT 'i:' || t || ':' || v FROM unnest(types, vals) AS n(t, v)) AS x(s)
           ORDER BY 1) AS q;
        RETURN QUERY
        WITH named AS (SELECT * FROM unnest(types, vals, ms) AS n(type, value, m)),
             blocked AS MATERIALIZED (
               SELECT DISTINCT n.m FROM named n JOIN rapport_suppression s
                 ON s.identity_hash = encode(sha256(convert_to(n.type, 'UTF8') || '\\x00'::bytea || convert_to(n.value, 'UTF8')), 'hex')),
             owned AS MATERIALIZED (
               SELECT DISTINCT o.profile_id FROM named n
                 CROSS JOIN LATERAL (SELECT i.profile_id FROM rapport_identity i WHERE i.type = n.type AND i.value = n.value LIMIT 1) o
                WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.m = n.m)),
             seen AS MATERIALIZED (
               SELECT p.id, p.version, p.merged_into FROM rapport_profile p WHERE p.id = ANY (ARRAY(SELECT profile_id FROM owned))),
             locked AS MATERIALIZED (
               SELECT p.id, p.created_at, p.merged_into, p.traits, p.trait_sources, p.version FROM rapport_profile p
                WHERE p.id = ANY (ARRAY(SELECT profile_id FROM owned)) ORDER BY p.id FOR KEY SHARE),
             ids AS (
               SELECT i.profile_id, json_agg(json_build_array(i.type, i.value)) AS ids FROM rapport_identity i
                WHERE i.profile_id = ANY (ARRAY(SELECT id FROM locked)) GROUP BY i.profile_id)
        SELECT 'dup'::text, e.message_id, NULL::timestamptz, NULL::uuid, NULL::jsonb, NULL::jsonb, NULL::int, NULL::bool, NULL::json
          FROM rapport_event e WHERE e.message_id = ANY (mids)
        UNION ALL
        SELECT 'sup', b.m::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM blocked b
        UNION ALL
        SELECT 'profile', COALESCE(l.id, s.id)::text, l.created_at, l.merged_into,
               CASE WHEN with_traits THEN l.traits END, CASE WHEN with_traits THEN l.trait_sources END, l.version,
               l.id IS NULL OR s.id IS NULL OR l.version <> s.version OR l.merged_into IS DISTINCT FROM s.merged_into, ids.ids
          FROM locked l FULL JOIN seen s ON s.id = l.id LEFT JOIN ids ON ids.profile_id = COALESCE(l.id, s.id);
      END $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION rapport_ingest_read(text[], text[], text[], int[], boolean)');
  }
}

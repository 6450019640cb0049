import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The columns `rapport_event_newest` returns: every event column but the large JSON ones a page rarely selects.
 * `ProfileBundleReader` reads them from here; a later migration that redefines the function must export its own list,
 * and the reader import that one.
 */
export const NEWEST_EVENT_COLUMNS = [
  'id', 'message_id', 'profile_id', 'origin_profile_id', 'type', 'name', 'group_id', 'category', 'user_id', 'anonymous_id',
  'properties', 'timestamp', 'original_timestamp', 'sent_at', 'received_at',
] as const;

/**
 * `rapport_event_newest(pid, lim)`: a profile's newest `lim` events, newest first (ties by id), for the first events
 * page of `profile(id) { events(first: n) }`, which the profile bundle read runs once per profile it reads.
 *
 * - **Why a function:** the plan must be the ordered scan of `(profile_id, timestamp DESC, id DESC)` whatever the
 *   statistics. Inline in the bundle statement, PostgreSQL chose a bitmap scan of all the profile's events and a sort
 *   when its estimate of events per profile was below the page size (flat-reads.spec.ts shows it). The function's
 *   `SET` clause takes bitmap scans and sorts off the table for its one statement only, as the page functions of
 *   migration 1763800000013 do.
 * - **Why PL/pgSQL, and columns rather than the row:** the bundle called `rapport_event_page`, a SQL function returning
 *   whole `rapport_event` rows. A SQL function is planned again in every statement that calls it, and a whole row copies
 *   `context` and `traits` for every event. A PL/pgSQL function keeps its plan for the connection's life, and this one
 *   returns the columns without those two. `bench/bundle-statement.bench.mjs` (pgbench on the bundle statement, prepared,
 *   9 profiles a call): 1,867 statements a second against 1,426 with the row-returning function (docs/benchmarks.md).
 * - A selection that asks for `context` or `traits` still reads through `rapport_event_page`.
 */
export class EventNewestFunction1763800000024 implements MigrationInterface {
  name = 'EventNewestFunction1763800000024';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rapport_event_newest(pid uuid, lim int)
      RETURNS TABLE (id bigint, message_id text, profile_id uuid, origin_profile_id uuid, type text, name text, group_id text,
                     category text, user_id text, anonymous_id text, properties jsonb, "timestamp" timestamptz,
                     original_timestamp timestamptz, sent_at timestamptz, received_at timestamptz)
      LANGUAGE plpgsql STABLE
      SET enable_sort = off SET enable_bitmapscan = off AS $$
      BEGIN
        RETURN QUERY SELECT ${NEWEST_EVENT_COLUMNS.map((c) => `e.${c === 'timestamp' ? '"timestamp"' : c}`).join(', ')}
          FROM rapport_event e WHERE e.profile_id = pid ORDER BY e.timestamp DESC, e.id DESC LIMIT lim;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION rapport_event_newest(uuid, int)');
  }
}

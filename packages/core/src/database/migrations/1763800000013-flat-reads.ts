import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reads whose cost does not grow with the events table (issue 14, point 3).
 *
 * **Events pages.** One function per page shape (no filter, `type`, `type` and `name`, `name`),
 * each a LATERAL `ORDER BY timestamp DESC, id DESC LIMIT n` per profile over an index whose
 * columns are exactly the shape's equalities followed by `(timestamp DESC, id DESC)`. The
 * functions run with `enable_sort` and `enable_bitmapscan` off (a `SET` clause, so only their
 * own statement): the planner then cannot pick "read all the profile's events, then sort", which
 * it did when statistics said a profile has a few events and the profile had a million. The cost
 * is what the page reads, whatever the profile's size and the statistics. A `name` without a
 * `type` reads the newest page of each of the three types that carry names (`track`, `page`,
 * `screen`) in order from the `(profile_id, type, name, ...)` index and sorts those few rows. The `after` cursor is a row comparison inside
 * the index condition; no cursor is the cursor `(infinity, max bigint)`, so one text serves both.
 *
 * **Activity.** `rapport_profile_activity` holds each profile's first and last event timestamp,
 * indexed by `last_seen_at`, for `profiles(filter: { seenSince })`. Statement-level triggers on
 * `rapport_event` keep it exact on every path that writes events: inserts (one upsert per profile
 * per statement, in profile order so that concurrent batches lock rows in one order), updates
 * that move events between profiles (merges, unmerges) and deletes (erasure) recompute the
 * profiles they touched from the `(profile_id, timestamp)` index (two probes each).
 */
export class FlatReads1763800000013 implements MigrationInterface {
  name = 'FlatReads1763800000013';

  async up(q: QueryRunner): Promise<void> {
    // The (profile_id, type, name) index becomes (profile_id, type, name, timestamp, id): the same
    // lookups, and also the order of a filtered page.
    await q.query(`DROP INDEX IF EXISTS rapport_event_profile_name_idx`);
    await q.query(`CREATE INDEX rapport_event_profile_type_name_time_idx ON rapport_event (profile_id, type, name, timestamp DESC, id DESC)`);
    await q.query(`CREATE INDEX rapport_event_profile_type_time_idx ON rapport_event (profile_id, type, timestamp DESC, id DESC)`);

    for (const [fn, params, where] of PAGE_SHAPES) {
      await q.query(`
        CREATE FUNCTION ${fn}(pids uuid[], ats timestamptz[], eids bigint[], ${params}lim int)
        RETURNS TABLE (n bigint, ev rapport_event) LANGUAGE sql STABLE
        SET enable_sort = off SET enable_bitmapscan = off AS $$
          SELECT q.n, x.ev FROM unnest(pids, ats, eids) WITH ORDINALITY AS q(pid, at, eid, n)
            CROSS JOIN LATERAL (${where}) x
        $$`);
    }

    await q.query(`
      CREATE TABLE rapport_profile_activity (
        profile_id     uuid PRIMARY KEY,
        first_seen_at  timestamptz NOT NULL,
        last_seen_at   timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO rapport_profile_activity (profile_id, first_seen_at, last_seen_at)
      SELECT profile_id, min(timestamp), max(timestamp) FROM rapport_event GROUP BY profile_id`);
    await q.query(`CREATE INDEX rapport_profile_activity_last_idx ON rapport_profile_activity (last_seen_at, profile_id)`);

    await q.query(`
      CREATE FUNCTION rapport_activity_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO rapport_profile_activity AS a (profile_id, first_seen_at, last_seen_at)
        SELECT profile_id, min(timestamp), max(timestamp) FROM new_rows GROUP BY profile_id ORDER BY profile_id
        ON CONFLICT (profile_id) DO UPDATE
          SET first_seen_at = least(a.first_seen_at, excluded.first_seen_at), last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at)
          WHERE excluded.first_seen_at < a.first_seen_at OR excluded.last_seen_at > a.last_seen_at;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION rapport_activity_recompute(ids uuid[]) RETURNS void LANGUAGE sql AS $$
        DELETE FROM rapport_profile_activity a WHERE a.profile_id = ANY(ids)
           AND NOT EXISTS (SELECT 1 FROM rapport_event e WHERE e.profile_id = a.profile_id);
        INSERT INTO rapport_profile_activity AS a (profile_id, first_seen_at, last_seen_at)
        SELECT x.id, s.f, s.l FROM (SELECT DISTINCT unnest(ids) AS id ORDER BY 1) x
          CROSS JOIN LATERAL (SELECT (SELECT min(e.timestamp) FROM rapport_event e WHERE e.profile_id = x.id) AS f,
                                     (SELECT max(e.timestamp) FROM rapport_event e WHERE e.profile_id = x.id) AS l) s
         WHERE s.f IS NOT NULL
        ON CONFLICT (profile_id) DO UPDATE SET first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at
      $$`);
    await q.query(`
      CREATE FUNCTION rapport_activity_moved() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM rapport_activity_recompute(ARRAY(
          SELECT o.profile_id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.profile_id <> o.profile_id OR n.timestamp <> o.timestamp
          UNION SELECT n.profile_id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.profile_id <> o.profile_id OR n.timestamp <> o.timestamp));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION rapport_activity_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM rapport_activity_recompute(ARRAY(SELECT DISTINCT profile_id FROM old_rows));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_event_activity_insert AFTER INSERT ON rapport_event
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_activity_inserted()`);
    await q.query(`
      CREATE TRIGGER rapport_event_activity_update AFTER UPDATE ON rapport_event
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_activity_moved()`);
    await q.query(`
      CREATE TRIGGER rapport_event_activity_delete AFTER DELETE ON rapport_event
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_activity_deleted()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER rapport_event_activity_insert ON rapport_event`);
    await q.query(`DROP TRIGGER rapport_event_activity_update ON rapport_event`);
    await q.query(`DROP TRIGGER rapport_event_activity_delete ON rapport_event`);
    await q.query(`DROP FUNCTION rapport_activity_inserted(), rapport_activity_moved(), rapport_activity_deleted(), rapport_activity_recompute(uuid[])`);
    await q.query(`DROP TABLE rapport_profile_activity`);
    for (const [fn] of PAGE_SHAPES) await q.query(`DROP FUNCTION ${fn}`);
    await q.query(`DROP INDEX rapport_event_profile_type_time_idx`);
    await q.query(`DROP INDEX rapport_event_profile_type_name_time_idx`);
    await q.query(`CREATE INDEX rapport_event_profile_name_idx ON rapport_event (profile_id, type, name)`);
  }
}

/** The newest events of profile `q.pid` before the cursor `(q.at, q.eid)`, with extra conditions. */
function newest(conditions: string): string {
  return `SELECT e AS ev FROM rapport_event e
           WHERE e.profile_id = q.pid${conditions} AND (e.timestamp, e.id) < (q.at, q.eid)
           ORDER BY e.timestamp DESC, e.id DESC LIMIT lim`;
}

/** Types whose events carry a name (`track`: the event; `page`, `screen`: the page's name). */
const NAMED_TYPES = ['track', 'page', 'screen'];

/** Each page shape: function name, its extra parameters, and the per-profile query. */
const PAGE_SHAPES: Array<[string, string, string]> = [
  ['rapport_event_page', '', newest('')],
  ['rapport_event_page_type', 'etype text, ', newest(' AND e.type = etype')],
  ['rapport_event_page_type_name', 'etype text, ename text, ', newest(' AND e.type = etype AND e.name = ename')],
  // A name without a type: the newest `lim` of each named type, each read in order from the
  // (type, name) index, then the newest `lim` of those (a sort of at most 3 x lim rows: PostgreSQL
  // makes no ordered merge of an append under a LATERAL parameter).
  [
    'rapport_event_page_name', 'ename text, ',
    `SELECT u.ev FROM (${NAMED_TYPES.map((t) => `(${newest(` AND e.type = '${t}' AND e.name = ename`).replace('SELECT e AS ev', 'SELECT e AS ev, e.timestamp, e.id')})`).join(' UNION ALL ')}) u
      ORDER BY u.timestamp DESC, u.id DESC LIMIT lim`,
  ],
];

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index for "the events named X": `(type, name, profile_id, timestamp, id)`.
 *
 * Plugins that answer from every stored event through `ctx.events.all()` (journeys' funnels, retention and paths) read
 * the events of a few names across all people; the other indexes on `rapport_event` start with `profile_id`. With this
 * one the funnel's first pass is an index-only scan. `profile_id` comes before `timestamp` on purpose: a statement that
 * reads one person's events of a name can use this index or the profile's and is fast either way. With `timestamp`
 * third, the planner, misled by statistics not yet updated after a burst of events, read every event of a name for each
 * person of a journeys delivery batch (a second per batch of 500, 1.2 ms a change instead of 0.05; journeys.md#latency).
 * `id` is a key column, not included: read backwards, the index gives one person's events of a name newest first, ties
 * by id, the order of an events page, so a page read through it needs no sort (flat-reads.spec.ts checks the plans).
 * A time range is then a filter of the index scan, not a bound of it. Measured at 1,000,000 events (with `timestamp`
 * third): 2.8 s to build, 74 MB, and no cost to ingestion this machine could see
 * (docs/benchmarks.md#a-design-measurement-answering-from-cores-events-instead-of-a-copy-2026-12-06-1945-2010).
 * Built in the migration's transaction, which blocks writes to `rapport_event` while it builds (seconds per million
 * events): on a large deployment, create it `CONCURRENTLY` by hand first, under this name, and the migration skips it.
 */
export class EventNameIndex1763800000023 implements MigrationInterface {
  name = 'EventNameIndex1763800000023';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX IF NOT EXISTS rapport_event_type_name_idx ON rapport_event (type, name, profile_id, timestamp, id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS rapport_event_type_name_idx');
  }
}

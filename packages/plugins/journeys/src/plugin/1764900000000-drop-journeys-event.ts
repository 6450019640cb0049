import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Journeys reads core's events in place (`ctx.events.all()`, journey-events.relation.ts) instead of its own copy of
 * them: `journeys_event` goes, and with it a copy of every tracked event's properties. The copy was most of what the
 * plugin cost ingestion (docs/benchmarks.md#with-the-journeys-plugin-loaded). `down` recreates the table empty (its
 * rows were a copy, not data of their own; the code that filled it is gone with this version).
 * `journeys_funnel_person`, created with the table, stays: funnels still call it.
 */
export class DropJourneysEvent1764900000000 implements MigrationInterface {
  name = 'DropJourneysEvent1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE journeys_event');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys_event (
        event_id bigint PRIMARY KEY, profile_id uuid NOT NULL, origin_profile_id uuid NOT NULL, name text NOT NULL, ts bigint NOT NULL, props jsonb
      )`);
    await q.query('CREATE INDEX journeys_event_name_ts_idx ON journeys_event (name, ts) INCLUDE (profile_id, event_id)');
    await q.query('CREATE INDEX journeys_event_profile_name_idx ON journeys_event (profile_id, name, ts)');
  }
}

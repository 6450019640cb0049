import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the trait backfill of a journey definition needs (stage.traits.ts):
 *
 * - `journeys_identified`: every profile an identify event was delivered for (its first profile, and the one it is on
 *   now), so a person who only ever identified is known to the plugin when a journey later names one of their traits.
 *   Ids only, no values.
 * - `journeys_trait_snapshot_seq`: ids of the trait rows copied from the host's current values when a definition
 *   starts naming a key. They are stored as negative `event_id`s in `journeys_trait`, apart from real events' ids.
 *
 * No foreign key to core's tables.
 */
export class JourneyTraitBackfill1764600000000 implements MigrationInterface {
  name = 'JourneyTraitBackfill1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys_identified (
        origin_profile_id  uuid PRIMARY KEY,
        profile_id         uuid NOT NULL
      )`);
    await q.query('CREATE INDEX journeys_identified_profile_idx ON journeys_identified (profile_id)');
    await q.query('CREATE SEQUENCE journeys_trait_snapshot_seq');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP SEQUENCE journeys_trait_snapshot_seq');
    await q.query('DROP TABLE journeys_identified');
  }
}

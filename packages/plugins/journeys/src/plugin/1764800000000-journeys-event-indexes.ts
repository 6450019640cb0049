import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One index fewer on `journeys_event`, which delivery writes for every tracked event: `(profile_id, ts)` goes, as
 * `(profile_id, name, ts)` (stage rules) serves every read by person too (merges, unmerges, paths, exports, the
 * stage jobs), and each index is a write per event (docs/journeys.md#ingestion).
 */
export class JourneysEventIndexes1764800000000 implements MigrationInterface {
  name = 'JourneysEventIndexes1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX journeys_event_profile_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX journeys_event_profile_idx ON journeys_event (profile_id, ts)');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The trait copy of a journey definition as a resumable job (stage.traits.ts):
 *
 * - `journeys_trait_copy`: one row per journey whose definition started naming trait keys: the keys to copy, the
 *   timestamp the copied rows get (`as_of`, the definition's time, so an identify event after it wins), the cursor
 *   (`after`: everyone up to this profile id is done, moved in the transaction that writes their values), progress
 *   (`people` read of `total`, `copied` values written), `state` (`copying`, `copied`, `failed`) and the last `error`.
 *   No foreign key to `journeys_definition`: a copy goes on for the keys other journeys still name.
 * - a unique index on the copied rows of `journeys_trait` by (first profile, key, `as_of`): a chunk written twice (two
 *   servers, a retry) adds nothing. Duplicates the earlier in-request copy could have left are removed first.
 *
 * No foreign key to core's tables.
 */
export class JourneyTraitCopy1764700000000 implements MigrationInterface {
  name = 'JourneyTraitCopy1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys_trait_copy (
        journey     text PRIMARY KEY,
        keys        text[] NOT NULL,
        as_of       bigint NOT NULL,
        after       uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
        state       text NOT NULL DEFAULT 'copying' CHECK (state IN ('copying', 'copied', 'failed')),
        people      int NOT NULL DEFAULT 0,
        total       int,
        copied      int NOT NULL DEFAULT 0,
        error       text,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      DELETE FROM journeys_trait t USING journeys_trait d
       WHERE t.event_id < 0 AND d.event_id < 0 AND d.origin_profile_id = t.origin_profile_id AND d.key = t.key AND d.ts = t.ts
         AND d.event_id > t.event_id`);
    await q.query('CREATE UNIQUE INDEX journeys_trait_snapshot_idx ON journeys_trait (origin_profile_id, key, ts) WHERE event_id < 0');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX journeys_trait_snapshot_idx');
    await q.query('DROP TABLE journeys_trait_copy');
  }
}

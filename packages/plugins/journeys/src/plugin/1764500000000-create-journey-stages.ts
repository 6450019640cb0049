import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Journey stages: the definitions admins manage, the trait values their rules read, each person's current stage and
 * its history, and the log of stage changes other plugins read after their own cursor.
 *
 * - `journeys_definition`: one row per journey (its checked stages as JSON, a version bumped on every redefinition,
 *   the version the backfill has evaluated, and up to when time-based rules were re-checked).
 * - `journeys_trait`: trait values of identify events as delivered, only for the keys some journey's rules name; one
 *   row per (event, key), with the profile the event is on now and the one it was first stored on (merges, unmerges).
 * - `journeys_stage`: the current stage of each tracked person in each journey (people who allow `analytics`).
 * - `journeys_stage_history`: every visit of a stage (`left_at` null for the current one).
 * - `journeys_stage_change`: every change, in commit order (writers hold one advisory lock until they commit, so a
 *   reader that resumes after the last id it saw never skips a row).
 * - an index `(profile_id, name, ts)` on `journeys_event` (the event store's table): what rule evaluation reads.
 *
 * No foreign key to core's tables.
 */
export class CreateJourneyStages1764500000000 implements MigrationInterface {
  name = 'CreateJourneyStages1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys_definition (
        name               text PRIMARY KEY,
        stages             jsonb NOT NULL,
        version            int NOT NULL DEFAULT 1,
        evaluated_version  int NOT NULL DEFAULT 0,
        checked_until      bigint NOT NULL,
        defined_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE journeys_trait (
        event_id           bigint NOT NULL,
        key                text NOT NULL,
        profile_id         uuid NOT NULL,
        origin_profile_id  uuid NOT NULL,
        value              jsonb NOT NULL,
        ts                 bigint NOT NULL,
        PRIMARY KEY (event_id, key)
      )`);
    await q.query('CREATE INDEX journeys_trait_profile_idx ON journeys_trait (profile_id, key, ts)');
    await q.query('CREATE INDEX journeys_trait_origin_idx ON journeys_trait (origin_profile_id)');
    // Each event condition of a rule is a probe for one person's events of one name (in a window): this index answers
    // it exactly. With only `(profile_id, ts)` and `(name, ts)`, the planner filters a person's every event by name, or
    // (with statistics not yet gathered after a burst of events) ANDs the person's events with every event of the name.
    await q.query('CREATE INDEX journeys_event_profile_name_idx ON journeys_event (profile_id, name, ts)');
    await q.query(`
      CREATE TABLE journeys_stage (
        journey      text NOT NULL,
        profile_id   uuid NOT NULL,
        stage        text NOT NULL,
        stage_index  int NOT NULL,
        entered_at   timestamptz NOT NULL,
        PRIMARY KEY (journey, profile_id)
      )`);
    await q.query('CREATE INDEX journeys_stage_profile_idx ON journeys_stage (profile_id)');
    await q.query(`
      CREATE TABLE journeys_stage_history (
        id           bigserial PRIMARY KEY,
        journey      text NOT NULL,
        profile_id   uuid NOT NULL,
        stage        text NOT NULL,
        entered_at   timestamptz NOT NULL,
        left_at      timestamptz
      )`);
    await q.query('CREATE INDEX journeys_stage_history_profile_idx ON journeys_stage_history (profile_id, journey, id)');
    await q.query(`
      CREATE TABLE journeys_stage_change (
        id           bigserial PRIMARY KEY,
        journey      text NOT NULL,
        profile_id   uuid NOT NULL,
        from_stage   text,
        to_stage     text,
        reason       text NOT NULL,
        changed_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX journeys_stage_change_profile_idx ON journeys_stage_change (profile_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX journeys_event_profile_name_idx');
    await q.query('DROP TABLE journeys_stage_change');
    await q.query('DROP TABLE journeys_stage_history');
    await q.query('DROP TABLE journeys_stage');
    await q.query('DROP TABLE journeys_trait');
    await q.query('DROP TABLE journeys_definition');
  }
}

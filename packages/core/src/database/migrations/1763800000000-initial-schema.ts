import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The unified-profile graph: profiles, identities, events, merges, API keys.
 * Written as SQL on purpose: the indexes and constraints are the design.
 *
 * - Activity (first and last seen) is read from events, not stored on the profile, so an event
 *   that changes no trait writes no profile row.
 * - `rapport_event.profile_id` has no foreign key: events are the hot append path, only the
 *   ingestion transaction writes them (under the profile's locks), and deletion removes them
 *   explicitly. Identities and merges keep theirs.
 */
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_profile (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        merged_into    uuid NULL REFERENCES rapport_profile(id),
        traits         jsonb NOT NULL DEFAULT '{}'::jsonb,
        trait_sources  jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        version        integer NOT NULL DEFAULT 0
      ) WITH (fillfactor = 90)`);
    await q.query(`CREATE INDEX rapport_profile_live_idx ON rapport_profile (created_at, id) WHERE merged_into IS NULL`);
    await q.query(`CREATE INDEX rapport_profile_merged_into_idx ON rapport_profile (merged_into) WHERE merged_into IS NOT NULL`);
    await q.query(`CREATE INDEX rapport_profile_traits_idx ON rapport_profile USING gin (traits jsonb_path_ops)`);

    await q.query(`
      CREATE TABLE rapport_identity (
        id                bigserial PRIMARY KEY,
        type              text NOT NULL,
        value             text NOT NULL,
        profile_id        uuid NOT NULL REFERENCES rapport_profile(id),
        origin_profile_id uuid NOT NULL,
        first_seen_at     timestamptz NOT NULL,
        CONSTRAINT rapport_identity_type_value_key UNIQUE (type, value)
      )`);
    await q.query(`CREATE INDEX rapport_identity_profile_idx ON rapport_identity (profile_id)`);

    await q.query(`
      CREATE TABLE rapport_event (
        id                  bigserial PRIMARY KEY,
        message_id          text NOT NULL,
        profile_id          uuid NOT NULL,
        origin_profile_id   uuid NOT NULL,
        type                text NOT NULL,
        name                text NULL,
        user_id             text NULL,
        anonymous_id        text NULL,
        properties          jsonb NOT NULL DEFAULT '{}'::jsonb,
        traits              jsonb NULL,
        context             jsonb NOT NULL DEFAULT '{}'::jsonb,
        integrations        jsonb NULL,
        timestamp           timestamptz NOT NULL,
        original_timestamp  timestamptz NULL,
        sent_at             timestamptz NULL,
        received_at         timestamptz NOT NULL,
        source_key_id       uuid NULL,
        group_id            text NULL,
        category            text NULL,
        CONSTRAINT rapport_event_message_id_key UNIQUE (message_id)
      )`);
    await q.query(`CREATE INDEX rapport_event_profile_time_idx ON rapport_event (profile_id, timestamp DESC, id DESC)`);
    await q.query(`CREATE INDEX rapport_event_profile_name_idx ON rapport_event (profile_id, type, name)`);

    await q.query(`
      CREATE TABLE rapport_merge (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        survivor_id  uuid NOT NULL REFERENCES rapport_profile(id),
        merged_id    uuid NOT NULL REFERENCES rapport_profile(id),
        rule         text NOT NULL,
        score        double precision NULL,
        reason       jsonb NOT NULL DEFAULT '{}'::jsonb,
        message_id   text NULL,
        actor        text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        undone_at    timestamptz NULL,
        undone_by    text NULL
      )`);
    await q.query(`CREATE INDEX rapport_merge_survivor_idx ON rapport_merge (survivor_id)`);
    await q.query(`CREATE INDEX rapport_merge_merged_idx ON rapport_merge (merged_id)`);

    await q.query(`
      CREATE TABLE rapport_api_key (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text NOT NULL,
        prefix        text NOT NULL,
        key_hash      text NOT NULL,
        roles         text[] NOT NULL,
        purposes      text[] NOT NULL DEFAULT '{}',
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz NULL,
        revoked_at    timestamptz NULL,
        CONSTRAINT rapport_api_key_hash_key UNIQUE (key_hash)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rapport_api_key`);
    await q.query(`DROP TABLE rapport_merge`);
    await q.query(`DROP TABLE rapport_event`);
    await q.query(`DROP TABLE rapport_identity`);
    await q.query(`DROP TABLE rapport_profile`);
  }
}

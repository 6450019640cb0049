import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The recommendations plugin's tables: catalog, interactions, stored model versions. */
export class CreateRecommendations1764100000000 implements MigrationInterface {
  name = 'CreateRecommendations1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rec_item (
        id          text PRIMARY KEY,
        title       text,
        category    text,
        price       numeric(14, 2),
        available   boolean NOT NULL DEFAULT true,
        attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
        source      text NOT NULL DEFAULT 'event',
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX rec_item_category_idx ON rec_item (category, id)');
    await q.query(`
      CREATE TABLE rec_interaction (
        profile_id  uuid NOT NULL,
        item_id     text NOT NULL REFERENCES rec_item(id),
        weight      real NOT NULL DEFAULT 0,
        count       integer NOT NULL DEFAULT 0,
        views       integer NOT NULL DEFAULT 0,
        adds        integer NOT NULL DEFAULT 0,
        purchases   integer NOT NULL DEFAULT 0,
        last_at     timestamptz NOT NULL,
        PRIMARY KEY (profile_id, item_id)
      )`);
    await q.query('CREATE INDEX rec_interaction_item_idx ON rec_interaction (item_id)');
    await q.query(`
      CREATE TABLE rec_model (
        id          bigserial PRIMARY KEY,
        name        text NOT NULL,
        version     integer NOT NULL,
        payload     bytea NOT NULL,
        metrics     jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (name, version)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rec_model');
    await q.query('DROP TABLE rec_interaction');
    await q.query('DROP TABLE rec_item');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sentiment plugin's tables: the texts with their analysis, the hand-off cases, and the counts of event texts
 * skipped (by reason). No foreign key to core's tables; rows are moved on merges and erased with the person.
 */
export class CreateSentiment1764300000000 implements MigrationInterface {
  name = 'CreateSentiment1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sentiment_text (
        id           bigserial PRIMARY KEY,
        source_key   text NOT NULL UNIQUE,
        profile_id   uuid NOT NULL,
        channel      text NOT NULL,
        topic        text NOT NULL,
        body         text NOT NULL,
        truncated    boolean NOT NULL DEFAULT false,
        status       text NOT NULL DEFAULT 'pending',
        polarity     real,
        label        text,
        confidence   real,
        model        text,
        language     text,
        explanation  jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        analysed_at  timestamptz
      )`);
    await q.query('CREATE INDEX sentiment_text_profile_idx ON sentiment_text (profile_id, id DESC)');
    await q.query("CREATE INDEX sentiment_text_pending_idx ON sentiment_text (id) WHERE status = 'pending'");
    await q.query(`
      CREATE TABLE sentiment_handoff (
        id           bigserial PRIMARY KEY,
        profile_id   uuid NOT NULL,
        topic        text NOT NULL,
        status       text NOT NULL DEFAULT 'open',
        reasons      text[] NOT NULL,
        text_ids     bigint[] NOT NULL,
        assignee     text,
        note         text,
        opened_at    timestamptz NOT NULL DEFAULT now(),
        assigned_at  timestamptz,
        resolved_at  timestamptz
      )`);
    // Dedupe: at most one case that is not resolved per person and topic.
    await q.query("CREATE UNIQUE INDEX sentiment_handoff_open_idx ON sentiment_handoff (profile_id, topic) WHERE status <> 'resolved'");
    await q.query('CREATE INDEX sentiment_handoff_status_idx ON sentiment_handoff (status, id)');
    await q.query('CREATE TABLE sentiment_skip (reason text PRIMARY KEY, count bigint NOT NULL)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sentiment_skip');
    await q.query('DROP TABLE sentiment_handoff');
    await q.query('DROP TABLE sentiment_text');
  }
}

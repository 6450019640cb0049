import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Probabilistic identity resolution: trained models, scored candidate pairs (the review queue),
 * blocking keys for incremental matching, and batch runs (for resuming).
 */
export class IdentityResolution1763800000001 implements MigrationInterface {
  name = 'IdentityResolution1763800000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_match_model (
        id          serial PRIMARY KEY,
        model       jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE rapport_match_candidate (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        profile_a    uuid NOT NULL REFERENCES rapport_profile(id),
        profile_b    uuid NOT NULL REFERENCES rapport_profile(id),
        weight       double precision NOT NULL,
        probability  double precision NOT NULL,
        explanation  jsonb NOT NULL,
        status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'merged', 'rejected')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        resolved_at  timestamptz NULL,
        resolved_by  text NULL,
        CONSTRAINT rapport_match_candidate_order CHECK (profile_a < profile_b),
        CONSTRAINT rapport_match_candidate_pair_key UNIQUE (profile_a, profile_b)
      )`);
    await q.query(`CREATE INDEX rapport_match_candidate_queue_idx ON rapport_match_candidate (probability DESC, id) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX rapport_match_candidate_b_idx ON rapport_match_candidate (profile_b)`);
    await q.query(`
      CREATE TABLE rapport_match_key (
        key         text NOT NULL,
        profile_id  uuid NOT NULL,
        PRIMARY KEY (key, profile_id)
      )`);
    await q.query(`CREATE INDEX rapport_match_key_profile_idx ON rapport_match_key (profile_id)`);
    await q.query(`
      CREATE TABLE rapport_resolve_run (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        model_id     integer NOT NULL REFERENCES rapport_match_model(id),
        status       text NOT NULL DEFAULT 'running',
        total        integer NOT NULL DEFAULT 0,
        processed    integer NOT NULL DEFAULT 0,
        merged       integer NOT NULL DEFAULT 0,
        queued       integer NOT NULL DEFAULT 0,
        started_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rapport_resolve_run');
    await q.query('DROP TABLE rapport_match_key');
    await q.query('DROP TABLE rapport_match_candidate');
    await q.query('DROP TABLE rapport_match_model');
  }
}

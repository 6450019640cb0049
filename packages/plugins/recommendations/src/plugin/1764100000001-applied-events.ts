import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rec_applied_event`: the events whose interactions are already counted. Delivery is
 * at-least-once (a crash between the plugin's commit and the cursor's move delivers a batch again);
 * the batch's effects and these rows commit together, so a redelivered event is skipped and each
 * interaction counts once. Rows older than 30 days are pruned by a scheduled job.
 */
export class AppliedEvents1764100000001 implements MigrationInterface {
  name = 'AppliedEvents1764100000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rec_applied_event (
        event_id    bigint PRIMARY KEY,
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX rec_applied_event_at_idx ON rec_applied_event (applied_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rec_applied_event');
  }
}

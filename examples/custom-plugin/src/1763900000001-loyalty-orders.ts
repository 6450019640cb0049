import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders counted, one row per event: delivery is at-least-once, so the plugin records each order
 * under its event id and adds it to the totals only the first time (same transaction). Also drops
 * the foreign key to core's profile table that the first migration created in 0.1: plugins never
 * depend on core tables (a deleted person's rows go through `onProfileDeleted`).
 */
export class LoyaltyOrders1763900000001 implements MigrationInterface {
  name = 'LoyaltyOrders1763900000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE loyalty_account DROP CONSTRAINT IF EXISTS loyalty_account_profile_id_fkey');
    await q.query(`
      CREATE TABLE loyalty_order (
        event_id    bigint PRIMARY KEY,
        profile_id  uuid NOT NULL,
        revenue     numeric(14, 2) NOT NULL
      )`);
    await q.query('CREATE INDEX loyalty_order_profile_idx ON loyalty_order (profile_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE loyalty_order');
  }
}

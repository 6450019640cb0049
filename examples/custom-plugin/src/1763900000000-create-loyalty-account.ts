import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The plugin's table. Plugins own their schema through migrations, like core. */
export class CreateLoyaltyAccount1763900000000 implements MigrationInterface {
  name = 'CreateLoyaltyAccount1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE loyalty_account (
        profile_id        uuid PRIMARY KEY,
        lifetime_revenue  numeric(14, 2) NOT NULL DEFAULT 0,
        orders            integer NOT NULL DEFAULT 0,
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE loyalty_account');
  }
}

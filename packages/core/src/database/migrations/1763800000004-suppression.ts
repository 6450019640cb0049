import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Suppression list: identities of deleted people, stored as SHA-256 hashes (never the values),
 * so future messages carrying them are dropped instead of recreating the person.
 */
export class Suppression1763800000004 implements MigrationInterface {
  name = 'Suppression1763800000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_suppression (
        identity_hash  text PRIMARY KEY,
        created_at     timestamptz NOT NULL DEFAULT now(),
        actor          text NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rapport_suppression');
  }
}

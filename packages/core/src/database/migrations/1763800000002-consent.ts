import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Consent: purposes (data, defined by admins), each profile's current decision per purpose, and
 * the full history of decisions. Seeds four common purposes.
 */
export class Consent1763800000002 implements MigrationInterface {
  name = 'Consent1763800000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_purpose (
        name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]*$'),
        description  text NOT NULL,
        legal_basis  text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      INSERT INTO rapport_purpose (name, description, legal_basis) VALUES
        ('analytics', 'Measure and improve the product from aggregate behaviour.', 'legitimate_interest'),
        ('personalization', 'Tailor content, recommendations and offers to the person.', 'consent'),
        ('marketing', 'Send marketing messages and target advertising.', 'consent'),
        ('support', 'Help the person when they contact support.', 'contract')`);
    await q.query(`
      CREATE TABLE rapport_consent (
        profile_id  uuid NOT NULL REFERENCES rapport_profile(id),
        purpose     text NOT NULL REFERENCES rapport_purpose(name),
        granted     boolean NOT NULL,
        source      text NOT NULL,
        at          timestamptz NOT NULL,
        expires_at  timestamptz NULL,
        PRIMARY KEY (profile_id, purpose)
      )`);
    await q.query(`
      CREATE TABLE rapport_consent_history (
        id           bigserial PRIMARY KEY,
        profile_id   uuid NOT NULL,
        purpose      text NOT NULL,
        granted      boolean NOT NULL,
        source       text NOT NULL,
        at           timestamptz NOT NULL,
        expires_at   timestamptz NULL,
        message_id   text NULL,
        actor        text NOT NULL,
        recorded_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX rapport_consent_history_profile_idx ON rapport_consent_history (profile_id, recorded_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rapport_consent_history');
    await q.query('DROP TABLE rapport_consent');
    await q.query('DROP TABLE rapport_purpose');
  }
}

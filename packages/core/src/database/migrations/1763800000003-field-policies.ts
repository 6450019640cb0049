import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Field policies (who may read which field, for which purpose) and the PII read audit log. */
export class FieldPolicies1763800000003 implements MigrationInterface {
  name = 'FieldPolicies1763800000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_field_policy (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        type        text NOT NULL,
        field       text NOT NULL,
        purposes    text[] NOT NULL DEFAULT '{}',
        roles       text[] NOT NULL DEFAULT '{}',
        mask        text NOT NULL DEFAULT 'null' CHECK (mask IN ('null', 'mask', 'hash')),
        pii         boolean NOT NULL DEFAULT false,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT rapport_field_policy_key UNIQUE (type, field)
      )`);
    await q.query(`
      CREATE TABLE rapport_audit_log (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        key_id      uuid NULL,
        actor       text NOT NULL,
        action      text NOT NULL,
        profile_id  uuid NULL,
        fields      text[] NOT NULL DEFAULT '{}',
        purpose     text NULL,
        request_id  text NULL
      )`);
    await q.query(`CREATE INDEX rapport_audit_log_profile_idx ON rapport_audit_log (profile_id, at DESC)`);
    await q.query(`CREATE INDEX rapport_audit_log_at_idx ON rapport_audit_log (at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rapport_audit_log');
    await q.query('DROP TABLE rapport_field_policy');
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox that plugins consume (see `delivery/event-delivery.service.ts`).
 *
 * Rows are written by triggers in the transaction that stores the change, whatever path stored it
 * (the tracking API, GraphQL, the CLI, a merge, a consent decision), so a committed change always
 * has its outbox row and a rolled-back one never does. `tx` is the writing transaction's id:
 * consumers read in `(tx, id)` order and only below the oldest transaction still running
 * (`pg_snapshot_xmin`), so a row committed late with a smaller `id` is never skipped.
 *
 * Existing events are copied in with `tx = 0`, so a plugin that asks for history gets them too.
 */
export class Outbox1763800000010 implements MigrationInterface {
  name = 'Outbox1763800000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rapport_outbox (
        id          bigserial PRIMARY KEY,
        tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
        kind        text NOT NULL,
        ref         text NOT NULL,
        profile_id  uuid NULL,
        at          timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX rapport_outbox_order_idx ON rapport_outbox (tx, id)`);
    await q.query(`CREATE INDEX rapport_outbox_ref_idx ON rapport_outbox (ref) WHERE kind = 'event'`);
    await q.query(`
      CREATE TABLE rapport_delivery_cursor (
        consumer          text PRIMARY KEY,
        tx                xid8 NOT NULL,
        id                bigint NOT NULL,
        delivered         bigint NOT NULL DEFAULT 0,
        attempts          int NOT NULL DEFAULT 0,
        last_error        text NULL,
        next_attempt_at   timestamptz NULL,
        leased_by         text NULL,
        lease_until       timestamptz NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE rapport_dead_letter (
        id           bigserial PRIMARY KEY,
        consumer     text NOT NULL,
        outbox_id    bigint NOT NULL,
        kind         text NOT NULL,
        ref          text NOT NULL,
        profile_id   uuid NULL,
        error        text NOT NULL,
        attempts     int NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        replayed_at  timestamptz NULL
      )`);
    await q.query(`CREATE INDEX rapport_dead_letter_consumer_idx ON rapport_dead_letter (consumer, id) WHERE replayed_at IS NULL`);

    await q.query(`
      CREATE FUNCTION rapport_outbox_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO rapport_outbox (kind, ref, profile_id) SELECT 'event', n.id::text, n.profile_id FROM new_rows n ORDER BY n.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_event_outbox AFTER INSERT ON rapport_event
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_outbox_events()`);
    await q.query(`
      CREATE FUNCTION rapport_outbox_merges() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO rapport_outbox (kind, ref, profile_id) SELECT 'merge', n.id::text, n.survivor_id FROM new_rows n ORDER BY n.created_at;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_merge_outbox AFTER INSERT ON rapport_merge
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_outbox_merges()`);
    await q.query(`
      CREATE FUNCTION rapport_outbox_unmerges() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO rapport_outbox (kind, ref, profile_id) VALUES ('unmerge', NEW.id::text, NEW.survivor_id);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_unmerge_outbox AFTER UPDATE OF undone_at ON rapport_merge
      FOR EACH ROW WHEN (OLD.undone_at IS NULL AND NEW.undone_at IS NOT NULL) EXECUTE FUNCTION rapport_outbox_unmerges()`);
    await q.query(`
      CREATE FUNCTION rapport_outbox_consents() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO rapport_outbox (kind, ref, profile_id) SELECT 'consent', n.id::text, n.profile_id FROM new_rows n ORDER BY n.id;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_consent_outbox AFTER INSERT ON rapport_consent_history
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_outbox_consents()`);

    // Erasure: an erased event leaves nothing behind in the outbox or the dead letters.
    await q.query(`
      CREATE FUNCTION rapport_outbox_erase() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM rapport_outbox o USING old_rows d WHERE o.kind = 'event' AND o.ref = d.id::text;
        DELETE FROM rapport_dead_letter l USING old_rows d WHERE l.kind = 'event' AND l.ref = d.id::text;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER rapport_event_outbox_erase AFTER DELETE ON rapport_event
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rapport_outbox_erase()`);

    // History: events stored before the outbox existed, first in every consumer's order.
    await q.query(`INSERT INTO rapport_outbox (tx, kind, ref, profile_id, at) SELECT '0'::xid8, 'event', e.id::text, e.profile_id, e.received_at FROM rapport_event e ORDER BY e.id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER rapport_consent_outbox ON rapport_consent_history');
    await q.query('DROP TRIGGER rapport_unmerge_outbox ON rapport_merge');
    await q.query('DROP TRIGGER rapport_merge_outbox ON rapport_merge');
    await q.query('DROP TRIGGER rapport_event_outbox ON rapport_event');
    await q.query('DROP TRIGGER rapport_event_outbox_erase ON rapport_event');
    await q.query('DROP FUNCTION rapport_outbox_erase(), rapport_outbox_consents(), rapport_outbox_unmerges(), rapport_outbox_merges(), rapport_outbox_events()');
    await q.query('DROP TABLE rapport_dead_letter, rapport_delivery_cursor, rapport_outbox');
  }
}

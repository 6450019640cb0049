import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rapport_erasure_hold(ids)`: what `ctx.profiles.hold` runs (`consent/erasure-lock.ts`), in one round trip. It takes
 * the erasure lock shared (an erasure takes it exclusively), then returns the positions (1-based) of the ids among
 * `ids` that are not profiles any more (usually none, so the answer is small).
 *
 * The function is VOLATILE: under READ COMMITTED its `RETURN QUERY` takes a new snapshot after the lock was granted,
 * so it sees an erasure it waited for as committed, as a statement of its own would. It refuses a transaction at any
 * other level (SQL state 25001), where its read would use the snapshot taken before the wait. The key
 * `(1380011088, 1)` is in the two-int key space, apart from the one-bigint keys ingestion and jobs take.
 */
export class ErasureHold1763800000022 implements MigrationInterface {
  name = 'ErasureHold1763800000022';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION rapport_erasure_hold(ids uuid[]) RETURNS SETOF int LANGUAGE plpgsql VOLATILE AS $fn$
      BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'ctx.profiles.hold needs a READ COMMITTED transaction, this one is %', current_setting('transaction_isolation')
            USING ERRCODE = '25001';
        END IF;
        PERFORM pg_advisory_xact_lock_shared(1380011088, 1);
        RETURN QUERY SELECT x.i::int FROM unnest(ids) WITH ORDINALITY AS x(id, i)
          WHERE NOT EXISTS (SELECT 1 FROM rapport_profile p WHERE p.id = x.id);
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION rapport_erasure_hold(uuid[])');
  }
}

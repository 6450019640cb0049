import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The journeys plugin's event store and its funnel function.
 *
 * `journeys_event` is a compact copy of the events a funnel can use (track, page and screen events): one row per
 * event id, with the profile it is on now, the profile it was first stored on (to undo a merge), its name, its time
 * in epoch milliseconds and its top-level scalar properties. No foreign key to core's tables.
 *
 * Indexes, chosen for the funnel query: `(name, ts) INCLUDE (profile_id, event_id)` serves the first pass of every
 * funnel (the events of the step names in the date range, read from the index alone after a VACUUM); `(profile_id,
 * ts)` serves strict funnels (every event of the people who entered), merges and erasure.
 *
 * `journeys_funnel_person` walks one person's events in time order and returns how far they got and when, following
 * PostHog's `aggregate_funnel` (see docs/journeys.md for the semantics and where they differ).
 */
export class CreateJourneys1764400000000 implements MigrationInterface {
  name = 'CreateJourneys1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE journeys_event (
        event_id           bigint PRIMARY KEY,
        profile_id         uuid NOT NULL,
        origin_profile_id  uuid NOT NULL,
        name               text NOT NULL,
        ts                 bigint NOT NULL,
        props              jsonb
      )`);
    await q.query('CREATE INDEX journeys_event_name_ts_idx ON journeys_event (name, ts) INCLUDE (profile_id, event_id)');
    await q.query('CREATE INDEX journeys_event_profile_idx ON journeys_event (profile_id, ts)');
    await q.query(FUNNEL_PERSON_FUNCTION);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION journeys_funnel_person');
    await q.query('DROP TABLE journeys_event');
  }
}

/**
 * One person's funnel. Inputs are the person's events in (ts, event id) order: `ts` (epoch ms), `masks` (bit k-1 set
 * when the event matches step k) and `xmasks` (bit x-1 set when it matches exclusion x). Returns `reached` (the
 * furthest step, 0 for none, -1 when an exclusion disqualified the person), `times` (the time of steps 1..reached of
 * the run that first reached it) and `idx` (the index of each of those events in the input arrays).
 */
const FUNNEL_PERSON_FUNCTION = `
CREATE FUNCTION journeys_funnel_person(
  ts bigint[], masks int[], xmasks int[], n int, win bigint, step_win bigint[], x_from int[], x_to int[], mode text,
  OUT reached int, OUT times bigint[], OUT idx int[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
DECLARE
  cnt int := coalesce(cardinality(ts), 0);
  st bigint[] := array_fill(NULL::bigint, ARRAY[n]);
  tt bigint[] := array_fill(NULL::bigint, ARRAY[n * n]);
  ii int[] := array_fill(NULL::int, ARRAY[n * n]);
  t bigint; m int; xm int; seen int; fresh int; c int;
  rt bigint[]; ri int[];
BEGIN
  reached := 0; times := '{}'; idx := '{}';
  IF mode = 'unordered' THEN
    FOR a IN 1..cnt LOOP
      CONTINUE WHEN masks[a] = 0;
      seen := 0; rt := '{}'; ri := '{}';
      FOR b IN a..cnt LOOP
        EXIT WHEN ts[b] - ts[a] > win;
        fresh := masks[b] & ~seen;
        IF fresh <> 0 THEN
          FOR k IN 1..n LOOP
            IF fresh & (1 << (k - 1)) <> 0 THEN rt := rt || ts[b]; ri := ri || b; END IF;
          END LOOP;
          seen := seen | fresh;
        END IF;
      END LOOP;
      c := cardinality(rt);
      IF c > reached THEN reached := c; times := rt; idx := ri; END IF;
      EXIT WHEN reached = n;
    END LOOP;
    RETURN;
  END IF;
  FOR e IN 1..cnt LOOP
    t := ts[e]; m := masks[e]; xm := xmasks[e];
    IF xm <> 0 THEN
      FOR x IN 1..coalesce(cardinality(x_from), 0) LOOP
        CONTINUE WHEN xm & (1 << (x - 1)) = 0;
        FOR k IN (x_from[x] + 1)..x_to[x] LOOP
          IF st[k - 1] IS NOT NULL AND t - st[k - 1] <= win AND st[k] IS DISTINCT FROM st[k - 1] THEN
            reached := -1; times := '{}'; idx := '{}';
            RETURN;
          END IF;
        END LOOP;
      END LOOP;
    END IF;
    IF m <> 0 THEN
      FOR k IN REVERSE n..1 LOOP
        CONTINUE WHEN m & (1 << (k - 1)) = 0;
        IF k = 1 THEN
          IF st[1] IS DISTINCT FROM t THEN
            st[1] := t; tt[1] := t; ii[1] := e;
            IF reached < 1 THEN reached := 1; times := ARRAY[t]; idx := ARRAY[e]; END IF;
          END IF;
        ELSIF st[k - 1] IS NOT NULL AND t - st[k - 1] <= win
              AND (step_win[k] IS NULL OR t - tt[(k - 2) * n + (k - 1)] <= step_win[k])
              AND st[k] IS DISTINCT FROM st[k - 1] THEN
          st[k] := st[k - 1];
          FOR j IN 1..(k - 1) LOOP
            tt[(k - 1) * n + j] := tt[(k - 2) * n + j];
            ii[(k - 1) * n + j] := ii[(k - 2) * n + j];
          END LOOP;
          tt[(k - 1) * n + k] := t; ii[(k - 1) * n + k] := e;
          IF k > reached THEN
            reached := k;
            times := tt[((k - 1) * n + 1):((k - 1) * n + k)];
            idx := ii[((k - 1) * n + 1):((k - 1) * n + k)];
          END IF;
        END IF;
      END LOOP;
    END IF;
    IF mode = 'strict' THEN
      FOR k IN 1..n LOOP
        IF m & (1 << (k - 1)) = 0 THEN st[k] := NULL; END IF;
      END LOOP;
    END IF;
    EXIT WHEN st[n] IS NOT NULL;
  END LOOP;
END
$fn$`;

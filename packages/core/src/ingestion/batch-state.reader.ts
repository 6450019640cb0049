import type { Queryable } from '../database/database';
import type { IdentityRef } from './segment-message.types';

/** An identity a message names, with the message's position in the batch. */
export interface NamedIdentity extends IdentityRef {
  message: number;
}

/** A profile the batch's identities belong to, as locked (`FOR KEY SHARE`), with its identities. */
export interface LoadedProfile {
  id: string;
  created_at: Date;
  merged_into: string | null;
  traits: Record<string, unknown>;
  trait_sources: Record<string, never>;
  version: number;
  /** Every identity of the profile. */
  identities: IdentityRef[];
  /**
   * The row changed between the statement's snapshot and its lock (a concurrent writer committed
   * meanwhile), or disappeared: what was read with it may be stale, so the batch is retried.
   */
  stale: boolean;
}

/** What PostgreSQL holds about a batch, read once its advisory locks are held. */
export interface BatchState {
  /** Message ids already stored. */
  existing: Set<string>;
  /** Positions of the messages that name an identity on the suppression list. */
  suppressed: Set<number>;
  /** The profiles owning the identities of the messages that are not suppressed. */
  profiles: LoadedProfile[];
}

interface Row {
  k: 'dup' | 'sup' | 'profile';
  a: string;
  created_at: Date | null;
  merged_into: string | null;
  traits: Record<string, unknown> | null;
  trait_sources: Record<string, never> | null;
  version: number | null;
  stale: boolean | null;
  ids: Array<[string, string]> | null;
}

// One statement, one round trip, for what used to be five (dedupe, suppression, identity lookup,
// profiles, their identities). It runs after the advisory locks, in a statement of its own, so its
// snapshot sees everything committed by the batches it waited for.
//
// - `blocked`: messages naming a suppressed identity (the list holds sha256(type NUL value), as
//   `suppressionHash` computes it); their identities are not looked up, so their profiles are
//   neither loaded nor locked (as before, when suppression was filtered in Node).
// - `owned`: one index probe per identity (LATERAL ... LIMIT 1 on the unique (type, value) key). A
//   plain join of `unnest` with rapport_identity was planned as a hash join over a sequential scan
//   of the whole table: 15 ms a batch at 30,000 identities, growing with the table.
// - `locked` takes FOR KEY SHARE in id order (one global order). A row a concurrent transaction
//   changed after this statement's snapshot is returned, locked, in its newest version (READ
//   COMMITTED re-check), while `seen` and the identities below are read in the snapshot: `stale`
//   flags that difference (or a row gone), and the caller retries the transaction, which then
//   reads everything afresh. (Separate statements used to re-read the identities after the lock.)
// - Identities come back as one JSON array per profile: 500 rows instead of 2,000 to parse.
const SQL = `
WITH named AS (SELECT * FROM unnest($2::text[], $3::text[], $4::int[]) AS n(type, value, m)),
     blocked AS MATERIALIZED (
       SELECT DISTINCT n.m FROM named n JOIN rapport_suppression s
         ON s.identity_hash = encode(sha256(convert_to(n.type, 'UTF8') || '\\x00'::bytea || convert_to(n.value, 'UTF8')), 'hex')),
     owned AS MATERIALIZED (
       SELECT DISTINCT o.profile_id FROM named n
         CROSS JOIN LATERAL (SELECT i.profile_id FROM rapport_identity i WHERE i.type = n.type AND i.value = n.value LIMIT 1) o
        WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.m = n.m)),
     seen AS MATERIALIZED (
       SELECT p.id, p.version, p.merged_into FROM rapport_profile p WHERE p.id = ANY (ARRAY(SELECT profile_id FROM owned))),
     locked AS MATERIALIZED (
       SELECT p.id, p.created_at, p.merged_into, p.traits, p.trait_sources, p.version FROM rapport_profile p
        WHERE p.id = ANY (ARRAY(SELECT profile_id FROM owned)) ORDER BY p.id FOR KEY SHARE),
     ids AS (
       SELECT i.profile_id, json_agg(json_build_array(i.type, i.value)) AS ids FROM rapport_identity i
        WHERE i.profile_id = ANY (ARRAY(SELECT id FROM locked)) GROUP BY i.profile_id)
SELECT 'dup' AS k, e.message_id AS a, NULL::timestamptz AS created_at, NULL::uuid AS merged_into,
       NULL::jsonb AS traits, NULL::jsonb AS trait_sources, NULL::int AS version, NULL::bool AS stale, NULL::json AS ids
  FROM rapport_event e WHERE e.message_id = ANY ($1::text[])
UNION ALL
SELECT 'sup', b.m::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM blocked b
UNION ALL
SELECT 'profile', COALESCE(l.id, s.id)::text, l.created_at, l.merged_into, l.traits, l.trait_sources, l.version,
       l.id IS NULL OR s.id IS NULL OR l.version <> s.version OR l.merged_into IS DISTINCT FROM s.merged_into, ids.ids
  FROM locked l FULL JOIN seen s ON s.id = l.id LEFT JOIN ids ON ids.profile_id = COALESCE(l.id, s.id)`;

/**
 * Reads, in one statement, what resolving a batch needs: which message ids are already stored,
 * which named identities are suppressed, and the profiles (locked `FOR KEY SHARE`, in id order)
 * that own the identities of the other messages, with all their identities.
 * @param messageIds The batch's message ids.
 * @param named Every identity each message names (its identities, and both readings of an alias's `previousId`), with the message's position.
 */
export async function readBatchState(tx: Queryable, messageIds: string[], named: NamedIdentity[]): Promise<BatchState> {
  const rows = await tx.query<Row>(SQL, [messageIds, named.map((n) => n.type), named.map((n) => n.value), named.map((n) => n.message)]);
  const state: BatchState = { existing: new Set(), suppressed: new Set(), profiles: [] };
  for (const r of rows) {
    if (r.k === 'dup') state.existing.add(r.a);
    else if (r.k === 'sup') state.suppressed.add(Number(r.a));
    else {
      state.profiles.push({
        id: r.a, created_at: r.created_at!, merged_into: r.merged_into, traits: r.traits!, trait_sources: r.trait_sources!, version: r.version!,
        identities: (r.ids ?? []).map(([type, value]) => ({ type, value })), stale: r.stale!,
      });
    }
  }
  return state;
}

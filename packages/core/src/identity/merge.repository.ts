import type { Queryable } from '../database/database';
import { foldConsentsOnMerge } from '../consent/consent.service';

/** A merge to record: who survives, who is merged away, and why. */
export interface MergeWrite {
  /** The profile that survives (the live end of any chain). */
  survivorId: string;
  mergedId: string;
  /** `alias`, `shared_identity`, `manual` or `probabilistic`. */
  rule: string;
  score?: number | null;
  reason: object;
  messageId?: string | null;
  /** `ingestion`, `resolution`, or the API key name of an operator. */
  actor: string;
}

/**
 * Moves everything the merged profiles own to their survivors (identities, events, older
 * tombstones) and records the merges. The profile rows themselves (traits, `merged_into`) are
 * written by the caller. Consents fold conservatively (a denial on either side stays a denial).
 * Five statements, whatever the number of merges.
 */
export async function writeMerges(tx: Queryable, merges: MergeWrite[]): Promise<void> {
  if (!merges.length) return;
  const args = [merges.map((m) => m.mergedId), merges.map((m) => m.survivorId)];
  const from = 'unnest($1::uuid[], $2::uuid[]) AS x(m, s)';
  await tx.query(`UPDATE rapport_identity i SET profile_id = x.s FROM ${from} WHERE i.profile_id = x.m`, args);
  await tx.query(`UPDATE rapport_event e SET profile_id = x.s FROM ${from} WHERE e.profile_id = x.m`, args);
  await tx.query(`UPDATE rapport_profile p SET merged_into = x.s FROM ${from} WHERE p.merged_into = x.m`, args);
  await foldConsentsOnMerge(tx, merges);
  await tx.query(
    `INSERT INTO rapport_merge (survivor_id, merged_id, rule, score, reason, message_id, actor)
     SELECT s, m, r, sc, j::jsonb, mid, a
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[]) AS x(s, m, r, sc, j, mid, a)`,
    [
      merges.map((m) => m.survivorId), merges.map((m) => m.mergedId), merges.map((m) => m.rule), merges.map((m) => m.score ?? null),
      merges.map((m) => JSON.stringify(m.reason)), merges.map((m) => m.messageId ?? null), merges.map((m) => m.actor),
    ],
  );
}

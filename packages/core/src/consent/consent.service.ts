import type { Database, Queryable } from '../database/database';
import { NotFoundError, ValidationError } from '../errors/rapport-error';
import { group } from '../service/profile.service';
import { SnapshotCache } from '../service/snapshot.cache';
import type { ConsentDecision, ConsentRecord, PurposeRecord } from './consent.types';
import { LEGAL_BASES, PARTIAL_GRANT_SOURCE } from './legal-basis';

const NAME = /^[a-z][a-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toConsent(r: Record<string, unknown>): ConsentRecord {
  return {
    profileId: r.profile_id as string, purpose: r.purpose as string, granted: r.granted as boolean, source: r.source as string,
    at: r.at as Date, expiresAt: r.expires_at as Date | null,
  };
}

/**
 * Purposes and each profile's consent per purpose, with full history. Writes are upserts that
 * keep the latest decision (by event time) and append every decision to the history.
 */
export class ConsentService {
  /** Every purpose and their names, reloaded at most every 5 s, and at once after a definition on this node. */
  private readonly purposeSnapshot = new SnapshotCache(async () => {
    const list = await this.purposes();
    return { list, names: new Set(list.map((p) => p.name)) };
  }, 5000);

  constructor(private readonly db: Database) {}

  /** Every purpose. */
  async purposes(): Promise<PurposeRecord[]> {
    const rows = await this.db.query('SELECT * FROM rapport_purpose ORDER BY name');
    return rows.map((r) => ({ name: r.name as string, description: r.description as string, legalBasis: r.legal_basis as string, createdAt: r.created_at as Date }));
  }

  /** The cached purposes while fresh, else undefined (then {@link purposesCached} reloads them). */
  purposesFresh(): PurposeRecord[] | undefined {
    return this.purposeSnapshot.fresh()?.list;
  }

  /** Every purpose, cached for 5 s (a definition on this node clears it at once). */
  async purposesCached(): Promise<PurposeRecord[]> {
    return (await this.purposeSnapshot.get()).list;
  }

  /** Purpose names, cached for 5 s (a definition on this node clears it at once). */
  async purposeNames(): Promise<Set<string>> {
    return (await this.purposeSnapshot.get()).names;
  }

  /** Creates a purpose, or updates its description and legal basis. */
  async definePurpose(input: { name: string; description: string; legalBasis: string }): Promise<PurposeRecord> {
    if (!NAME.test(input.name)) throw new ValidationError('name', 'pattern', `"${input.name}" is not a purpose name: use lower case letters, digits, _ and -`);
    if (!input.description.trim()) throw new ValidationError('description', 'required', 'a purpose needs a description people can read');
    if (!(LEGAL_BASES as readonly string[]).includes(input.legalBasis)) {
      throw new ValidationError('legalBasis', 'enum', `"${input.legalBasis}" is not a legal basis; legal bases are ${LEGAL_BASES.join(', ')}`);
    }
    const [r] = await this.db.query(
      `INSERT INTO rapport_purpose (name, description, legal_basis) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, legal_basis = EXCLUDED.legal_basis RETURNING *`,
      [input.name, input.description, input.legalBasis],
    );
    this.purposeSnapshot.invalidate();
    return { name: r.name as string, description: r.description as string, legalBasis: r.legal_basis as string, createdAt: r.created_at as Date };
  }

  /** Current decisions of many profiles, one statement. */
  async consentsOf(profileIds: readonly string[]): Promise<ConsentRecord[][]> {
    const rows = await this.db.query('SELECT * FROM rapport_consent WHERE profile_id = ANY($1::uuid[]) ORDER BY purpose', [profileIds]);
    const by = group(rows, (r) => r.profile_id as string);
    return profileIds.map((id) => (by.get(id) ?? []).map(toConsent));
  }

  /** Every decision recorded for many profiles, newest first, one statement. */
  async historyOf(profileIds: readonly string[]): Promise<Array<Array<ConsentRecord & { actor: string; recordedAt: Date }>>> {
    const rows = await this.db.query('SELECT * FROM rapport_consent_history WHERE profile_id = ANY($1::uuid[]) ORDER BY recorded_at DESC, id DESC', [profileIds]);
    const by = group(rows, (r) => r.profile_id as string);
    return profileIds.map((id) => (by.get(id) ?? []).map((r) => ({ ...toConsent(r), actor: r.actor as string, recordedAt: r.recorded_at as Date })));
  }

  /** Records a decision for a profile (a merged-away id records on its survivor, for the whole merged profile). */
  async set(profileId: string, decision: ConsentDecision, actor: string): Promise<ConsentRecord> {
    if (!UUID.test(profileId)) throw new ValidationError('profileId', 'uuid', `"${profileId}" is not a profile id`);
    const names = await this.purposeNames();
    if (!names.has(decision.purpose)) {
      throw new ValidationError('purpose', 'enum', `"${decision.purpose}" is not a purpose; purposes are ${[...names].sort().join(', ')}`);
    }
    return this.db.transaction(async (tx) => {
      const [p] = await tx.query<{ live: string }>('SELECT COALESCE(merged_into, id) AS live FROM rapport_profile WHERE id = $1 FOR KEY SHARE', [profileId]);
      if (!p) throw new NotFoundError('profile', profileId);
      // A decision set over GraphQL is the whole person's: it is recorded for every member of a
      // merged profile (the survivor and each profile merged into it), so it overrides them all.
      const members = await tx.query<{ id: string }>('SELECT id FROM rapport_profile WHERE id = $1 OR merged_into = $1 ORDER BY id', [p.live]);
      await this.apply(tx, members.map((m) => ({ profileId: m.id, decision })), actor);
      const [row] = await tx.query('SELECT * FROM rapport_consent WHERE profile_id = $1 AND purpose = $2', [p.live, decision.purpose]);
      return toConsent(row);
    });
  }

  /**
   * Applies decisions inside a transaction (ingestion calls this with its own): the latest
   * decision per profile and purpose wins; every decision goes to the history. Decisions for
   * purposes that do not exist are returned, not stored.
   */
  async apply(tx: Queryable, items: Array<{ profileId: string; decision: ConsentDecision }>, actor: string): Promise<Array<{ profileId: string; decision: ConsentDecision }>> {
    if (!items.length) return [];
    const names = await this.purposeNames();
    const known = items.filter((i) => names.has(i.decision.purpose));
    const unknown = items.filter((i) => !names.has(i.decision.purpose));
    if (!known.length) return unknown;
    const col = <T>(f: (i: (typeof known)[number]) => T) => known.map(f);
    await tx.query(
      `INSERT INTO rapport_consent_history (profile_id, purpose, granted, source, at, expires_at, message_id, actor)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[], $8::text[])`,
      [col((i) => i.profileId), col((i) => i.decision.purpose), col((i) => i.decision.granted), col((i) => i.decision.source), col((i) => i.decision.at),
        col((i) => i.decision.expiresAt ?? null), col((i) => i.decision.messageId ?? null), col(() => actor)],
    );
    // One row per (profile, purpose): the latest decision of this batch, kept only if newer.
    const latest = new Map<string, (typeof known)[number]>();
    for (const i of known) {
      const k = `${i.profileId}|${i.decision.purpose}`;
      const cur = latest.get(k);
      if (!cur || cur.decision.at <= i.decision.at) latest.set(k, i);
    }
    const l = [...latest.values()];
    await tx.query(
      `INSERT INTO rapport_consent (profile_id, purpose, granted, source, at, expires_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[], $6::timestamptz[])
       ON CONFLICT (profile_id, purpose) DO UPDATE SET granted = EXCLUDED.granted, source = EXCLUDED.source, at = EXCLUDED.at, expires_at = EXCLUDED.expires_at
        WHERE rapport_consent.at <= EXCLUDED.at`,
      [l.map((i) => i.profileId), l.map((i) => i.decision.purpose), l.map((i) => i.decision.granted), l.map((i) => i.decision.source),
        l.map((i) => i.decision.at), l.map((i) => i.decision.expiresAt ?? null)],
    );
    // A decision of a member of a merged profile (the survivor itself or a profile merged into
    // it) changes the merged profile through the fold, whether it arrived before or after the merge.
    const merged = await tx.query<{ live: string }>(
      `SELECT DISTINCT COALESCE(p.merged_into, p.id) AS live FROM rapport_profile p
        WHERE p.id = ANY($1::uuid[]) AND (p.merged_into IS NOT NULL OR EXISTS (SELECT 1 FROM rapport_profile q WHERE q.merged_into = p.id))`,
      [[...new Set(l.map((i) => i.profileId))]],
    );
    await foldConsents(tx, merged.map((r) => r.live));
    return unknown;
  }
}

/**
 * Rebuilds the current consents of live profiles from the decisions recorded for their members
 * (the profile itself and every profile merged into it), folding conservatively
 * (docs/consent.md "Merges"). Per member and purpose the latest decision by event time counts
 * (a tie goes to the one recorded last); then, per purpose:
 * - a denial by any member: a denial;
 * - a grant by every member: a grant, with the earliest expiry;
 * - grants by some members and no decision by the others: no decision (the grant is not kept),
 *   unless one of the grants has already expired: then an expired grant (it stops every basis);
 *   when a grant expires later, a {@link PARTIAL_GRANT_SOURCE} row keeps that time: no decision
 *   until then, an expired grant after (as each member alone would be);
 * - no decision by any member: no row.
 * The same fold runs at a merge, on every decision that reaches a merged profile (whether it
 * arrived before or after the merge) and after an unmerge, so the result does not depend on the
 * order in which decisions and merges arrive. `extra` adds members not yet linked by `merged_into`.
 */
export async function foldConsents(tx: Queryable, liveIds: readonly string[], extra: ReadonlyArray<{ survivorId: string; mergedId: string }> = []): Promise<void> {
  const ids = [...new Set(liveIds)];
  if (!ids.length) return;
  await tx.query('DELETE FROM rapport_consent WHERE profile_id = ANY($1::uuid[])', [ids]);
  await tx.query(
    `WITH members AS (
       SELECT id AS m, COALESCE(merged_into, id) AS s FROM rapport_profile WHERE id = ANY($1::uuid[]) OR merged_into = ANY($1::uuid[])
       UNION
       SELECT m, s FROM unnest($2::uuid[], $3::uuid[]) AS x(m, s)
     ),
     live AS (SELECT s, count(DISTINCT m) AS n FROM members WHERE s = ANY($1::uuid[]) GROUP BY s),
     latest AS (
       SELECT DISTINCT ON (h.profile_id, h.purpose, mb.s) mb.s, h.purpose, h.granted, h.source, h.at, h.expires_at
         FROM rapport_consent_history h JOIN members mb ON h.profile_id = mb.m
        WHERE mb.s = ANY($1::uuid[])
        ORDER BY h.profile_id, h.purpose, mb.s, h.at DESC, h.id DESC
     ),
     folded AS (
       SELECT s, purpose, bool_and(granted) AS granted, count(*) AS decided, bool_or(granted AND expires_at <= now()) AS expired,
              CASE WHEN count(*) > 1 THEN 'merge' ELSE min(source) END AS source, max(at) AS at, min(expires_at) AS expires_at
         FROM latest GROUP BY s, purpose
     )
     INSERT INTO rapport_consent (profile_id, purpose, granted, source, at, expires_at)
     SELECT f.s, f.purpose,
            CASE WHEN f.granted AND f.decided < l.n AND NOT f.expired THEN false ELSE f.granted END,
            CASE WHEN f.granted AND f.decided < l.n AND NOT f.expired THEN $4 ELSE f.source END,
            f.at, f.expires_at
       FROM folded f JOIN live l ON l.s = f.s
      WHERE NOT f.granted OR f.decided = l.n OR f.expired OR f.expires_at IS NOT NULL`,
    [ids, extra.map((e) => e.mergedId), extra.map((e) => e.survivorId), PARTIAL_GRANT_SOURCE],
  );
}

/**
 * Folds the consents of merged profiles into their survivors (see {@link foldConsents}). The
 * merged profiles keep their own rows (an unmerge gives them back as they were).
 */
export async function foldConsentsOnMerge(tx: Queryable, merges: Array<{ survivorId: string; mergedId: string }>): Promise<void> {
  if (!merges.length) return;
  await foldConsents(tx, merges.map((m) => m.survivorId), merges);
}

/**
 * Rebuilds a profile's current consents from the decisions recorded for it and for `from`
 * (profiles merged into it), folding as {@link foldConsents} does. Used after an unmerge, so each
 * side gets back what its own decisions say.
 */
export async function rebuildConsents(tx: Queryable, profileId: string, from: string[] = [profileId]): Promise<void> {
  await foldConsents(tx, [profileId], from.filter((m) => m !== profileId).map((m) => ({ survivorId: profileId, mergedId: m })));
}

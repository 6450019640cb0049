import type { Database, Queryable } from '../database/database';
import { NotFoundError, ValidationError } from '../errors/rapport-error';
import { group } from '../service/profile.service';
import type { ConsentDecision, ConsentRecord, PurposeRecord } from './consent.types';
import { LEGAL_BASES } from './legal-basis';

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
  private purposeCache: { names: Set<string>; until: number } | null = null;
  private purposeList: { list: PurposeRecord[]; until: number } | null = null;
  /** Bumped on every definition on this node, so a read that started before it never caches what it read. */
  private version = 0;

  constructor(private readonly db: Database) {}

  /** Every purpose. */
  async purposes(): Promise<PurposeRecord[]> {
    const rows = await this.db.query('SELECT * FROM rapport_purpose ORDER BY name');
    return rows.map((r) => ({ name: r.name as string, description: r.description as string, legalBasis: r.legal_basis as string, createdAt: r.created_at as Date }));
  }

  /** Every purpose, cached for 5 s (a definition on this node clears it at once). */
  async purposesCached(): Promise<PurposeRecord[]> {
    if (this.purposeList && this.purposeList.until > Date.now()) return this.purposeList.list;
    const version = this.version;
    const list = await this.purposes();
    if (version === this.version) this.purposeList = { list, until: Date.now() + 5000 };
    return list;
  }

  /** Purpose names, cached for 5 s (a definition on this node clears it at once). */
  async purposeNames(): Promise<Set<string>> {
    if (this.purposeCache && this.purposeCache.until > Date.now()) return this.purposeCache.names;
    const version = this.version;
    const names = new Set((await this.db.query<{ name: string }>('SELECT name FROM rapport_purpose')).map((r) => r.name));
    if (version === this.version) this.purposeCache = { names, until: Date.now() + 5000 };
    return names;
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
    this.purposeCache = null;
    this.purposeList = null;
    this.version++;
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

  /** Records a decision for a profile (a merged-away id records on its survivor). */
  async set(profileId: string, decision: ConsentDecision, actor: string): Promise<ConsentRecord> {
    if (!UUID.test(profileId)) throw new ValidationError('profileId', 'uuid', `"${profileId}" is not a profile id`);
    const names = await this.purposeNames();
    if (!names.has(decision.purpose)) {
      throw new ValidationError('purpose', 'enum', `"${decision.purpose}" is not a purpose; purposes are ${[...names].sort().join(', ')}`);
    }
    return this.db.transaction(async (tx) => {
      const [p] = await tx.query<{ live: string }>('SELECT COALESCE(merged_into, id) AS live FROM rapport_profile WHERE id = $1 FOR KEY SHARE', [profileId]);
      if (!p) throw new NotFoundError('profile', profileId);
      await this.apply(tx, [{ profileId: p.live, decision }], actor);
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
    return unknown;
  }
}

/**
 * Folds the consents of merged profiles into their survivors, conservatively: per purpose, a
 * denial on either side stays a denial; the survivor keeps a grant only when every side granted.
 * The merged profiles keep their own rows (an unmerge gives them back as they were).
 */
export async function foldConsentsOnMerge(tx: Queryable, merges: Array<{ survivorId: string; mergedId: string }>): Promise<void> {
  if (!merges.length) return;
  await tx.query(
    `INSERT INTO rapport_consent (profile_id, purpose, granted, source, at, expires_at)
     SELECT x.s, c.purpose, bool_and(c.granted), 'merge', max(c.at), min(c.expires_at)
       FROM rapport_consent c JOIN unnest($1::uuid[], $2::uuid[]) AS x(m, s) ON c.profile_id = x.m
      GROUP BY x.s, c.purpose
     ON CONFLICT (profile_id, purpose) DO UPDATE
       SET granted = rapport_consent.granted AND EXCLUDED.granted,
           source = CASE WHEN rapport_consent.granted AND NOT EXCLUDED.granted THEN 'merge' ELSE rapport_consent.source END,
           at = GREATEST(rapport_consent.at, EXCLUDED.at),
           expires_at = LEAST(rapport_consent.expires_at, EXCLUDED.expires_at)`,
    [merges.map((m) => m.mergedId), merges.map((m) => m.survivorId)],
  );
}

/**
 * Rebuilds a profile's current consents from the decisions recorded for it and for `from`
 * (profiles merged into it), latest per purpose, folding conservatively across profiles. Used
 * after an unmerge, so each side gets back what its own decisions say.
 */
export async function rebuildConsents(tx: Queryable, profileId: string, from: string[] = [profileId]): Promise<void> {
  await tx.query('DELETE FROM rapport_consent WHERE profile_id = $1', [profileId]);
  await tx.query(
    `INSERT INTO rapport_consent (profile_id, purpose, granted, source, at, expires_at)
     SELECT $1, purpose, bool_and(granted), CASE WHEN count(*) > 1 THEN 'merge' ELSE min(source) END, max(at), min(expires_at)
       FROM (SELECT DISTINCT ON (profile_id, purpose) profile_id, purpose, granted, source, at, expires_at
               FROM rapport_consent_history WHERE profile_id = ANY($2::uuid[]) ORDER BY profile_id, purpose, at DESC, id DESC) latest
      GROUP BY purpose`,
    [profileId, from],
  );
}

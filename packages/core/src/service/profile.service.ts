import type { Queryable } from '../database/database';
import { ReadCoalescer } from '../database/read-coalescer';
import type { ConsentRecord } from '../consent/consent.types';
import { PARTIAL_GRANT_SOURCE, type ConsentState } from '../consent/legal-basis';
import type { TraitSource } from '../entity/profile.entity';
import { ValidationError } from '../errors/rapport-error';
import { normalizeIdentityType, normalizeIdentityValue } from '../identity/identity-normalizer';
import type { IdentityConfig } from '../identity/identity.config';
import type { IdentityRef } from '../ingestion/segment-message.types';
import { checkFirst, decodeCursor, encodeCursor, type Page } from '../pagination/cursor';

/** A profile as services return it. */
export interface ProfileRecord {
  id: string;
  mergedInto: string | null;
  traits: Record<string, unknown>;
  traitSources: Record<string, TraitSource>;
  createdAt: Date;
  updatedAt: Date;
}

/** A profile with its current consent decisions. */
export interface ProfileWithConsents {
  profile: ProfileRecord;
  consents: ConsentRecord[];
}

/** An identity of a profile. */
export interface IdentityRecord extends IdentityRef {
  profileId: string;
  originProfileId: string;
  firstSeenAt: Date;
}

/** A merge of one profile into another. */
export interface MergeRecord {
  id: string;
  survivorId: string;
  mergedId: string;
  rule: string;
  score: number | null;
  reason: Record<string, unknown>;
  messageId: string | null;
  actor: string;
  createdAt: Date;
  undoneAt: Date | null;
  undoneBy: string | null;
}

/** Filters for listing profiles. */
export interface ProfileFilter {
  /** Only profiles holding this identity. */
  identity?: IdentityRef;
  /** Only profiles whose traits contain these key/values (JSON containment). */
  traits?: Record<string, unknown>;
  /** Only profiles seen at or after this time. */
  seenSince?: Date;
  /**
   * Set by the field guard when a filter touches consent-guarded data: only profiles whose consent
   * state for `purpose` is one of `states` (the states the purpose's legal basis accepts, from
   * `allowingStates`), so which profiles match says nothing about those who did not allow it.
   */
  consent?: { purpose: string; states: readonly ConsentState[] };
}

/** The asked ids ($1) as `q.asked`, each with its live profile `p` (a merged-away id follows its tombstone). */
export const ASKED_AND_LIVE = `FROM unnest($1::uuid[]) AS q(asked)
         JOIN rapport_profile t ON t.id = q.asked
         JOIN rapport_profile p ON p.id = COALESCE(t.merged_into, t.id)`;

/** Profile columns, qualified by a table alias. */
export function profileColumns(a: string): string {
  return `${a}.id, ${a}.merged_into, ${a}.traits, ${a}.trait_sources, ${a}.created_at, ${a}.updated_at`;
}

/** A live profile `p`'s current consent decisions, as a JSON array (see {@link consentsFromJson}). */
export const CONSENTS_JSON = `(SELECT COALESCE(json_agg(json_build_object('purpose', c.purpose, 'granted', c.granted, 'source', c.source,
                                                          'at', c.at, 'expires_at', c.expires_at) ORDER BY c.purpose), '[]'::json)
                 FROM rapport_consent c WHERE c.profile_id = p.id)`;

/** A consent decision as {@link CONSENTS_JSON} reads it. */
export type ConsentJson = Record<string, string | boolean | null>;

/** The records of {@link CONSENTS_JSON}'s array. */
export function consentsFromJson(profileId: string, list: ConsentJson[]): ConsentRecord[] {
  return list.map((c) => ({
    profileId, purpose: c.purpose as string, granted: c.granted as boolean, source: c.source as string,
    at: new Date(c.at as string), expiresAt: c.expires_at ? new Date(c.expires_at as string) : null,
  }));
}

/** When a profile was first and last active (from its events). */
export interface ProfileActivity {
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
}

/** Maps a database row to a {@link ProfileRecord}. */
export function toProfile(r: Record<string, unknown>): ProfileRecord {
  return {
    id: r.id as string, mergedInto: r.merged_into as string | null, traits: r.traits as Record<string, unknown>,
    traitSources: r.trait_sources as Record<string, TraitSource>, createdAt: r.created_at as Date, updatedAt: r.updated_at as Date,
  };
}

function toMerge(r: Record<string, unknown>): MergeRecord {
  return {
    id: r.id as string, survivorId: r.survivor_id as string, mergedId: r.merged_id as string, rule: r.rule as string,
    score: r.score as number | null, reason: r.reason as Record<string, unknown>, messageId: r.message_id as string | null,
    actor: r.actor as string, createdAt: r.created_at as Date, undoneAt: r.undone_at as Date | null, undoneBy: r.undone_by as string | null,
  };
}

/** Reads of the profile graph. Every batch method takes many ids and issues one statement. */
export class ProfileService {
  /** Concurrent requests reading identities share one statement (see {@link ReadCoalescer}). */
  private readonly identities = new ReadCoalescer<IdentityRecord[]>((ids) => this.loadIdentities(ids));

  constructor(private readonly db: Queryable, private readonly identity: IdentityConfig) {}

  /**
   * Profiles by id, in the order asked; a merged-away id returns its survivor. Unknown ids give null.
   * One statement for any number of ids (it follows merge tombstones in SQL).
   */
  async byIds(ids: readonly string[]): Promise<Array<ProfileRecord | null>> {
    const valid = ids.filter((id) => UUID.test(id));
    if (!valid.length) return ids.map(() => null);
    const rows = await this.db.query<Record<string, unknown> & { asked: string }>(
      `SELECT q.asked, ${profileColumns('p')} ${ASKED_AND_LIVE}`,
      [valid],
    );
    const byAsked = new Map(rows.map((r) => [r.asked, toProfile(r)]));
    return ids.map((id) => byAsked.get(id) ?? null);
  }

  /** The live profile holding an identity (the value is normalised as at ingestion), or null. */
  async byIdentity(type: string, value: string): Promise<ProfileRecord | null> {
    const t = normalizeIdentityType(type);
    const v = normalizeIdentityValue(t, value, this.identity);
    if (v === null) throw new ValidationError('value', t, `${JSON.stringify(value)} is not a valid ${t}`);
    const rows = await this.db.query(
      `SELECT ${profileColumns('p')} FROM rapport_profile p WHERE p.id = (SELECT profile_id FROM rapport_identity WHERE type = $1 AND value = $2)`,
      [t, v],
    );
    return rows[0] ? toProfile(rows[0]) : null;
  }

  /** Live profiles (tombstones excluded), oldest first, keyset-paginated. */
  async list(args: { first: number; after?: string | null; filter?: ProfileFilter }): Promise<Page<ProfileRecord>> {
    const first = checkFirst(args.first, 500);
    const where = ['p.merged_into IS NULL'];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (args.after) {
      const [at, id] = decodeCursor(args.after);
      where.push(`(p.created_at, p.id) > (${p(at)}::timestamptz, ${p(id)}::uuid)`);
    }
    const f = args.filter;
    if (f?.identity) {
      const t = normalizeIdentityType(f.identity.type);
      const v = normalizeIdentityValue(t, f.identity.value, this.identity) ?? f.identity.value;
      where.push(`p.id IN (SELECT profile_id FROM rapport_identity WHERE type = ${p(t)} AND value = ${p(v)})`);
    }
    if (f?.traits) where.push(`p.traits @> ${p(JSON.stringify(f.traits))}::jsonb`);
    if (f?.consent) where.push(consentStateSql('p.id', p(f.consent.purpose), f.consent.states));
    // Each profile's last event time is kept in rapport_profile_activity (triggers on rapport_event,
    // migration 1763800000013), indexed: the filter reads the profiles seen since, not every
    // profile's events.
    if (f?.seenSince) where.push(`p.id IN (SELECT a.profile_id FROM rapport_profile_activity a WHERE a.last_seen_at >= ${p(f.seenSince)})`);
    const rows = await this.db.query(
      `SELECT ${profileColumns('p')} FROM rapport_profile p WHERE ${where.join(' AND ')} ORDER BY p.created_at, p.id LIMIT ${first + 1}`,
      params,
    );
    const nodes = rows.slice(0, first).map(toProfile);
    return { nodes, hasNextPage: rows.length > first, cursors: nodes.map((n) => encodeCursor([n.createdAt.toISOString(), n.id])) };
  }

  /**
   * First and last activity of many profiles, one statement: two probes of the events index per
   * profile (its oldest and newest entry), so a profile with a million events costs the same.
   */
  async activityOf(profileIds: readonly string[]): Promise<ProfileActivity[]> {
    const rows = await this.db.query<{ id: string; f: Date | null; l: Date | null }>(
      `SELECT q.id,
              (SELECT min(e.timestamp) FROM rapport_event e WHERE e.profile_id = q.id) AS f,
              (SELECT max(e.timestamp) FROM rapport_event e WHERE e.profile_id = q.id) AS l
         FROM unnest($1::uuid[]) AS q(id)`,
      [profileIds],
    );
    const by = new Map(rows.map((r) => [r.id, r]));
    return profileIds.map((id) => ({ firstSeenAt: by.get(id)?.f ?? null, lastSeenAt: by.get(id)?.l ?? null }));
  }

  /** Identities of many profiles, one statement (shared with concurrent callers, see {@link ReadCoalescer}). */
  async identitiesOf(profileIds: readonly string[]): Promise<IdentityRecord[][]> {
    const found = await this.identities.get(profileIds);
    return profileIds.map((id) => found.get(id) ?? []);
  }

  /** The statement behind {@link identitiesOf}, for the ids of every caller of one batch. */
  private async loadIdentities(profileIds: string[]): Promise<Map<string, IdentityRecord[]>> {
    const rows = await this.db.query(
      `SELECT type, value, profile_id, origin_profile_id, first_seen_at FROM rapport_identity
        WHERE profile_id = ANY($1::uuid[]) ORDER BY type, first_seen_at, value`,
      [profileIds],
    );
    const by = group(rows, (r) => r.profile_id as string);
    return new Map(
      [...by].map(([id, list]) => [
        id,
        list.map((r) => ({
          type: r.type as string, value: r.value as string, profileId: r.profile_id as string,
          originProfileId: r.origin_profile_id as string, firstSeenAt: r.first_seen_at as Date,
        })),
      ]),
    );
  }

  /** Every merge into or out of many profiles, undone ones included, newest first, one statement. */
  async mergeHistoryOf(profileIds: readonly string[]): Promise<MergeRecord[][]> {
    const rows = await this.db.query(
      `SELECT * FROM rapport_merge WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[]) ORDER BY created_at DESC`,
      [profileIds],
    );
    return profileIds.map((id) => rows.filter((r) => r.survivor_id === id || r.merged_id === id).map(toMerge));
  }

  /** Merges into many profiles (what was merged into each), newest first, one statement. */
  async mergedInto(profileIds: readonly string[]): Promise<MergeRecord[][]> {
    const rows = await this.db.query(
      `SELECT * FROM rapport_merge WHERE survivor_id = ANY($1::uuid[]) AND undone_at IS NULL ORDER BY created_at DESC`,
      [profileIds],
    );
    const by = group(rows, (r) => r.survivor_id as string);
    return profileIds.map((id) => (by.get(id) ?? []).map(toMerge));
  }
}

/** SQL for each stored consent state (row `c`), as `consentStateOf` decides it. */
const PARTIAL = `c.source = '${PARTIAL_GRANT_SOURCE}'`;
const STATE_SQL: Record<Exclude<ConsentState, 'none'>, string> = {
  granted: `c.granted AND (c.expires_at IS NULL OR c.expires_at > now()) AND NOT ${PARTIAL}`,
  expired: `(c.granted OR ${PARTIAL}) AND c.expires_at <= now()`,
  denied: `NOT c.granted AND NOT ${PARTIAL}`,
};

/** A condition true when the profile's consent state for the purpose is one of `states`. */
export function consentStateSql(profileId: string, purpose: string, states: readonly ConsentState[]): string {
  const stored = states.filter((s): s is Exclude<ConsentState, 'none'> => s !== 'none').map((s) => `(${STATE_SQL[s]})`);
  const row = `FROM rapport_consent c WHERE c.profile_id = ${profileId} AND c.purpose = ${purpose}`;
  const parts = [
    ...(stored.length ? [`EXISTS (SELECT 1 ${row} AND (${stored.join(' OR ')}))`] : []),
    // No row, or a partial grant not yet expired: no decision.
    ...(states.includes('none') ? [`NOT EXISTS (SELECT 1 ${row} AND NOT (${PARTIAL} AND (c.expires_at IS NULL OR c.expires_at > now())))`] : []),
  ];
  return parts.length ? `(${parts.join(' OR ')})` : 'false';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Groups rows by a key. */
export function group<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    let list = m.get(k);
    if (!list) m.set(k, (list = []));
    list.push(r);
  }
  return m;
}

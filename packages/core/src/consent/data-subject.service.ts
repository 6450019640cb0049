import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../database/database';
import { NotFoundError, ValidationError } from '../errors/rapport-error';
import type { IdentityRef } from '../ingestion/segment-message.types';
import { lockForErasure } from './erasure-lock';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The hash an identity is suppressed under. */
export function suppressionHash(id: IdentityRef): string {
  return createHash('sha256').update(`${id.type}\u0000${id.value}`).digest('hex');
}

/** Everything held on one person, as exported. */
export interface ProfileExport {
  exportedAt: string;
  profile: Record<string, unknown>;
  mergedProfiles: string[];
  identities: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  merges: Array<Record<string, unknown>>;
  consents: Array<Record<string, unknown>>;
  consentHistory: Array<Record<string, unknown>>;
  /** What each plugin holds, by plugin name. */
  plugins: Record<string, unknown>;
}

/**
 * Data subject rights: export everything held on a person, and delete it (hard delete, plus a
 * suppression entry so the same identifiers do not bring them back). Both are audited.
 */
export class DataSubjectService {
  constructor(private readonly db: Database) {}

  /** The live profile and every profile merged into it. */
  private async familyOf(tx: Queryable, id: string): Promise<{ live: string; all: string[] }> {
    if (!UUID.test(id)) throw new ValidationError('id', 'uuid', `"${id}" is not a profile id`);
    const [p] = await tx.query<{ live: string }>('SELECT COALESCE(merged_into, id) AS live FROM rapport_profile WHERE id = $1', [id]);
    if (!p) throw new NotFoundError('profile', id);
    const rows = await tx.query<{ id: string }>('SELECT id FROM rapport_profile WHERE id = $1 OR merged_into = $1', [p.live]);
    return { live: p.live, all: rows.map((r) => r.id) };
  }

  /** Exports all data held on the person (`plugins` filled by the caller from plugin hooks). */
  async export(id: string, actor: { keyId: string | null; name: string }): Promise<ProfileExport> {
    const { live, all } = await this.familyOf(this.db, id);
    const q = (sql: string) => this.db.query(sql, [all]);
    const [profile] = await this.db.query('SELECT * FROM rapport_profile WHERE id = $1', [live]);
    const result: ProfileExport = {
      exportedAt: new Date().toISOString(),
      profile,
      mergedProfiles: all.filter((p) => p !== live),
      identities: await q('SELECT type, value, profile_id, origin_profile_id, first_seen_at FROM rapport_identity WHERE profile_id = ANY($1::uuid[])'),
      events: await q('SELECT * FROM rapport_event WHERE profile_id = ANY($1::uuid[]) ORDER BY timestamp, id'),
      merges: await q('SELECT * FROM rapport_merge WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[]) ORDER BY created_at'),
      consents: await q('SELECT * FROM rapport_consent WHERE profile_id = ANY($1::uuid[])'),
      consentHistory: await q('SELECT * FROM rapport_consent_history WHERE profile_id = ANY($1::uuid[]) ORDER BY recorded_at'),
      plugins: {},
    };
    await this.audit(this.db, actor, 'export', live);
    return result;
  }

  /**
   * Deletes the person: events, identities, merges, consents, match data and profile rows (the live
   * one and its tombstones), after `beforeDelete` (plugin hooks) ran in the same transaction.
   * Their identities go to the suppression list as hashes. Returns the ids deleted.
   */
  async delete(
    id: string,
    actor: { keyId: string | null; name: string },
    beforeDelete: (tx: Queryable, profileIds: string[]) => Promise<void>,
  ): Promise<{ profileIds: string[]; suppressed: number }> {
    return this.db.transaction(async (tx) => {
      // First: plugins' transactions that hold people against erasure (`ctx.profiles.hold`) finish before the hooks run.
      await lockForErasure(tx);
      const { live, all } = await this.familyOf(tx, id);
      await tx.query('SELECT id FROM rapport_profile WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [all]);
      const ids = await tx.query<IdentityRef>('SELECT type, value FROM rapport_identity WHERE profile_id = ANY($1::uuid[])', [all]);
      await beforeDelete(tx, all);
      const a = [all];
      await tx.query('DELETE FROM rapport_event WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_identity WHERE profile_id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_match_candidate WHERE profile_a = ANY($1::uuid[]) OR profile_b = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_match_key WHERE profile_id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_consent WHERE profile_id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_consent_history WHERE profile_id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_merge WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[])', a);
      await tx.query('UPDATE rapport_profile SET merged_into = NULL WHERE id = ANY($1::uuid[])', a);
      await tx.query('DELETE FROM rapport_profile WHERE id = ANY($1::uuid[])', a);
      await tx.query(
        `INSERT INTO rapport_suppression (identity_hash, actor) SELECT h, $2 FROM unnest($1::text[]) AS h ON CONFLICT DO NOTHING`,
        [ids.map(suppressionHash), actor.name],
      );
      await this.audit(tx, actor, 'delete', live, ids.map((i) => i.type));
      return { profileIds: all, suppressed: ids.length };
    });
  }

  /** Which of these identities are suppressed (one statement). */
  async suppressed(tx: Queryable, ids: IdentityRef[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await tx.query<{ identity_hash: string }>('SELECT identity_hash FROM rapport_suppression WHERE identity_hash = ANY($1::text[])', [
      ids.map(suppressionHash),
    ]);
    return new Set(rows.map((r) => r.identity_hash));
  }

  private async audit(tx: Queryable, actor: { keyId: string | null; name: string }, action: string, profileId: string, fields: string[] = []): Promise<void> {
    await tx.query('INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields) VALUES ($1, $2, $3, $4, $5)', [
      actor.keyId, actor.name, action, profileId, fields,
    ]);
  }
}

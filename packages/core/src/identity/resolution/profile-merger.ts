import type { IdentityConfig } from '../identity.config';
import type { Database, Queryable } from '../../database/database';
import type { TraitSource } from '../../entity/profile.entity';
import { ConflictError, NotFoundError, ValidationError } from '../../errors/rapport-error';
import type { IdentityRef } from '../../ingestion/segment-message.types';
import { mergeTraits } from '../identity-graph';
import { writeMerges } from '../merge.repository';
import { MergeProtection } from '../merge-protection';
import type { Survivorship } from '../survivorship';
import { replayTraits } from './traits-replay';
import { rebuildConsents } from '../../consent/consent.service';

/** How a merge was decided. */
export interface MergeRequest {
  rule: 'manual' | 'probabilistic';
  actor: string;
  score?: number | null;
  reason: object;
  /** Which merge-protection limits apply: `all`, or only the types listed in `limits`. */
  enforceLimits?: 'explicit' | 'all';
}

/** A merge that was undone. */
export interface UnmergeResult {
  restoredId: string;
  survivorId: string;
  mergeId: string;
}

interface Row {
  id: string;
  created_at: Date;
  merged_into: string | null;
  traits: Record<string, unknown>;
  trait_sources: Record<string, TraitSource>;
}

/** A concurrent writer moved a profile under us: retried by Database.transaction. */
class Retry extends Error {
  readonly code = '40001';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Merges of stored profiles (by hand or probabilistic) and their undoing. */
export class ProfileMerger {
  private readonly all: MergeProtection;
  private readonly explicit: MergeProtection;

  constructor(private readonly db: Database, identity: IdentityConfig, private readonly survivorship: Survivorship) {
    this.all = new MergeProtection(identity);
    this.explicit = new MergeProtection({ ...identity, defaultLimit: Number.POSITIVE_INFINITY });
  }

  /**
   * Merges profiles into the oldest of them, in one transaction: identities, events and traits
   * (under survivorship) move to the survivor, the others become tombstones, a merge record is
   * kept per merged profile. Refused with CONFLICT when the result would break a merge limit.
   */
  async merge(ids: string[], req: MergeRequest): Promise<{ survivorId: string; mergedIds: string[] }> {
    ids.forEach((id, i) => {
      if (!UUID.test(id)) throw new ValidationError(`ids[${i}]`, 'uuid', `"${id}" is not a profile id`);
    });
    return this.db.transaction(async (tx) => {
      const resolved = await tx.query<{ asked: string; live: string }>(
        'SELECT id AS asked, COALESCE(merged_into, id) AS live FROM rapport_profile WHERE id = ANY($1::uuid[])',
        [ids],
      );
      for (const id of ids) if (!resolved.some((r) => r.asked === id)) throw new NotFoundError('profile', id);
      const live = [...new Set(resolved.map((r) => r.live))];
      if (live.length < 2) throw new ValidationError('ids', 'distinct', 'these ids are already one profile; nothing to merge');
      const rows = await tx.query<Row>(
        'SELECT id, created_at, merged_into, traits, trait_sources FROM rapport_profile WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
        [live],
      );
      if (rows.some((r) => r.merged_into)) throw new Retry('a profile was merged meanwhile');
      const identities = await tx.query<IdentityRef & { profile_id: string }>(
        'SELECT type, value, profile_id FROM rapport_identity WHERE profile_id = ANY($1::uuid[])',
        [live],
      );
      const v = (req.enforceLimits === 'all' ? this.all : this.explicit).violation(identities);
      if (v) {
        throw new ConflictError(`merging these profiles would give one profile ${v.count} ${v.type} values (limit ${v.limit}); they stay apart`);
      }
      const ordered = [...rows].sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
      const [survivor, ...merged] = ordered;
      const state = { traits: { ...survivor.traits }, traitSources: { ...survivor.trait_sources } };
      for (const m of merged) mergeTraits(this.survivorship, state, { traits: m.traits, traitSources: m.trait_sources });
      await tx.query(
        'UPDATE rapport_profile SET traits = $2::jsonb, trait_sources = $3::jsonb, updated_at = now(), version = version + 1 WHERE id = $1',
        [survivor.id, JSON.stringify(state.traits), JSON.stringify(state.traitSources)],
      );
      await tx.query('UPDATE rapport_profile SET merged_into = $1, updated_at = now(), version = version + 1 WHERE id = ANY($2::uuid[])', [
        survivor.id, merged.map((m) => m.id),
      ]);
      await writeMerges(
        tx,
        merged.map((m) => ({ survivorId: survivor.id, mergedId: m.id, rule: req.rule, score: req.score, reason: req.reason, actor: req.actor })),
      );
      await tx.query(
        `UPDATE rapport_match_candidate SET status = 'merged', resolved_at = now(), resolved_by = $2
          WHERE status = 'pending' AND profile_a = ANY($1::uuid[]) AND profile_b = ANY($1::uuid[])`,
        [live, req.actor],
      );
      return { survivorId: survivor.id, mergedIds: merged.map((m) => m.id) };
    });
  }

  /**
   * Undoes the merge of `profileId` into another profile: the identities and events that came from
   * it (and from profiles merged into it before) go back, both profiles' traits are rebuilt from
   * their own identify events, the merge record says who undid it, and the pair is marked rejected
   * so matching does not propose it again.
   */
  async unmerge(profileId: string, actor: string): Promise<UnmergeResult> {
    if (!UUID.test(profileId)) throw new ValidationError('id', 'uuid', `"${profileId}" is not a profile id`);
    return this.db.transaction(async (tx) => {
      const [merge] = await tx.query<{ id: string; survivor_id: string; created_at: Date }>(
        'SELECT id, survivor_id, created_at FROM rapport_merge WHERE merged_id = $1 AND undone_at IS NULL ORDER BY created_at DESC LIMIT 1',
        [profileId],
      );
      const [self] = await tx.query<{ merged_into: string | null }>('SELECT merged_into FROM rapport_profile WHERE id = $1', [profileId]);
      if (!self) throw new NotFoundError('profile', profileId);
      if (!merge || !self.merged_into) {
        throw new ValidationError('id', 'merged', `profile ${profileId} was never merged into another profile; there is nothing to unmerge`);
      }
      const survivorId = self.merged_into;
      await tx.query('SELECT id FROM rapport_profile WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [[profileId, survivorId]]);
      // The profile and everything merged into it before it was merged away.
      const subtree = (
        await tx.query<{ id: string }>(
          `WITH RECURSIVE t(id) AS (
             SELECT $1::uuid
             UNION
             SELECT m.merged_id FROM rapport_merge m JOIN t ON m.survivor_id = t.id
              WHERE m.undone_at IS NULL AND m.created_at < $2)
           SELECT id FROM t`,
          [profileId, merge.created_at],
        )
      ).map((r) => r.id);
      await tx.query('UPDATE rapport_identity SET profile_id = $1 WHERE origin_profile_id = ANY($2::uuid[]) AND profile_id = $3', [profileId, subtree, survivorId]);
      await tx.query('UPDATE rapport_event SET profile_id = $1 WHERE origin_profile_id = ANY($2::uuid[]) AND profile_id = $3', [profileId, subtree, survivorId]);
      // Events that arrived after the merge and name only the restored side's ids belong to it too.
      await tx.query(
        `WITH mine AS (SELECT type, value FROM rapport_identity WHERE profile_id = $1),
              theirs AS (SELECT type, value FROM rapport_identity WHERE profile_id = $2)
         UPDATE rapport_event e SET profile_id = $1, origin_profile_id = $1
          WHERE e.profile_id = $2 AND e.received_at >= $3
            AND (e.anonymous_id IN (SELECT value FROM mine WHERE type = 'anonymous_id') OR e.user_id IN (SELECT value FROM mine WHERE type = 'user_id'))
            AND NOT (COALESCE(e.anonymous_id IN (SELECT value FROM theirs WHERE type = 'anonymous_id'), false)
                     OR COALESCE(e.user_id IN (SELECT value FROM theirs WHERE type = 'user_id'), false))`,
        [profileId, survivorId, merge.created_at],
      );
      await tx.query('UPDATE rapport_profile SET merged_into = NULL WHERE id = $1', [profileId]);
      await tx.query('UPDATE rapport_profile SET merged_into = $1 WHERE id = ANY($2::uuid[]) AND id <> $1', [profileId, subtree]);
      for (const id of [profileId, survivorId]) await this.rewriteTraits(tx, id);
      // Each side's consents come back from the decisions recorded for it.
      await rebuildConsents(tx, profileId, subtree);
      await rebuildConsents(tx, survivorId, await this.mergedInto(tx, survivorId));
      await tx.query('UPDATE rapport_merge SET undone_at = now(), undone_by = $2 WHERE id = $1', [merge.id, actor]);
      const [a, b] = profileId < survivorId ? [profileId, survivorId] : [survivorId, profileId];
      await tx.query(
        `INSERT INTO rapport_match_candidate (profile_a, profile_b, weight, probability, explanation, status, resolved_at, resolved_by)
         VALUES ($1, $2, 0, 0, '[]'::jsonb, 'rejected', now(), $3)
         ON CONFLICT (profile_a, profile_b) DO UPDATE SET status = 'rejected', resolved_at = now(), resolved_by = $3`,
        [a, b, actor],
      );
      return { restoredId: profileId, survivorId, mergeId: merge.id };
    });
  }

  /** The profile and every profile still merged into it. */
  private async mergedInto(tx: Queryable, id: string): Promise<string[]> {
    const rows = await tx.query<{ id: string }>('SELECT id FROM rapport_profile WHERE merged_into = $1', [id]);
    return [id, ...rows.map((r) => r.id)];
  }

  private async rewriteTraits(tx: Queryable, id: string): Promise<void> {
    const { traits, traitSources } = await replayTraits(tx, id, this.survivorship);
    await tx.query('UPDATE rapport_profile SET traits = $2::jsonb, trait_sources = $3::jsonb, updated_at = now(), version = version + 1 WHERE id = $1', [
      id, JSON.stringify(traits), JSON.stringify(traitSources),
    ]);
  }
}

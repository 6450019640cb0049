import type { Queryable } from '../../database/database';
import type { TraitSource } from '../../entity/profile.entity';
import { ownValue, setOwn } from '../../ingestion/own-key';
import type { Survivorship } from '../survivorship';

/**
 * Rebuilds a profile's traits from its own identify events, oldest first, under the
 * survivorship rules: the state they would have if these events had been its only ones.
 * This is what makes an unmerge exact: each side gets back the traits its events set.
 */
export async function replayTraits(
  tx: Queryable,
  profileId: string,
  survivorship: Survivorship,
): Promise<{ traits: Record<string, unknown>; traitSources: Record<string, TraitSource> }> {
  const rows = await tx.query<{ timestamp: Date; message_id: string; origin_profile_id: string; traits: Record<string, unknown> | null; ctx_traits: unknown; source: string | null }>(
    `SELECT e.timestamp, e.message_id, e.origin_profile_id, e.traits, e.context->'traits' AS ctx_traits, k.name AS source
       FROM rapport_event e LEFT JOIN rapport_api_key k ON k.id = e.source_key_id
      WHERE e.profile_id = $1 AND e.type = 'identify' ORDER BY e.timestamp, e.id`,
    [profileId],
  );
  const traits: Record<string, unknown> = {};
  const traitSources: Record<string, TraitSource> = {};
  for (const r of rows) {
    const ctx = r.ctx_traits && typeof r.ctx_traits === 'object' && !Array.isArray(r.ctx_traits) ? (r.ctx_traits as Record<string, unknown>) : {};
    const at = r.timestamp.toISOString();
    for (const [k, v] of Object.entries({ ...ctx, ...r.traits })) {
      const incoming = { value: v, source: { at, messageId: r.message_id, profileId: r.origin_profile_id, ...(r.source ? { source: r.source } : {}) } };
      const known = ownValue(traitSources, k);
      const current = known ? { value: ownValue(traits, k), source: known } : undefined;
      if (survivorship.pick(k, current, incoming) !== incoming) continue;
      // Own keys only: a trait may be called `__proto__`, `constructor` or `hasOwnProperty`.
      if (v === null) delete traits[k];
      else setOwn(traits, k, v);
      setOwn(traitSources, k, incoming.source);
    }
  }
  return { traits, traitSources };
}

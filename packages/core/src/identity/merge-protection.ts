import type { IdentityConfig } from './identity.config';
import { ownValue } from '../ingestion/own-key';
import type { IdentityRef } from '../ingestion/segment-message.types';

/** Up to this many identities, {@link MergeProtection.violation} counts without a map. */
const SMALL = 12;

/**
 * Merge protection: per-type limits and a priority order (Segment Unify's model).
 */
export class MergeProtection {
  constructor(private readonly config: IdentityConfig) {}

  /** Most values of `type` one profile may hold (a type such as `constructor`, from `context.externalIds`, gets the default). */
  limit(type: string): number {
    return ownValue(this.config.limits, type) ?? this.config.defaultLimit;
  }

  /** Sorts identities from most to least trusted (priority list, then type name, then value). */
  byPriority(ids: IdentityRef[]): IdentityRef[] {
    const rank = (t: string) => {
      const i = this.config.priority.indexOf(t);
      return i === -1 ? this.config.priority.length : i;
    };
    return [...ids].sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type) || a.value.localeCompare(b.value));
  }

  /** The first type whose distinct values exceed its limit, or null when all are within limits. */
  violation(identities: Iterable<IdentityRef>): { type: string; limit: number; count: number } | null {
    // A profile holds a few identities: counting them in place allocates nothing (it runs for every profile a batch touches).
    if (Array.isArray(identities) && identities.length <= SMALL) return this.smallViolation(identities);
    const values = new Map<string, Set<string>>();
    for (const id of identities) {
      let set = values.get(id.type);
      if (!set) values.set(id.type, (set = new Set()));
      set.add(id.value);
    }
    for (const [type, set] of values) {
      const limit = this.limit(type);
      if (set.size > limit) return { type, limit, count: set.size };
    }
    return null;
  }

  /** {@link violation} for at most {@link SMALL} identities: types in order of first appearance, distinct values counted in place. */
  private smallViolation(ids: readonly IdentityRef[]): { type: string; limit: number; count: number } | null {
    for (let i = 0; i < ids.length; i++) {
      const type = ids[i].type;
      let first = true;
      for (let j = 0; j < i && first; j++) first = ids[j].type !== type;
      if (!first) continue;
      let count = 0;
      for (let k = i; k < ids.length; k++) {
        if (ids[k].type !== type) continue;
        let fresh = true;
        for (let j = i; j < k && fresh; j++) fresh = ids[j].type !== type || ids[j].value !== ids[k].value;
        if (fresh) count++;
      }
      const limit = this.limit(type);
      if (count > limit) return { type, limit, count };
    }
    return null;
  }
}

import { randomUUID } from 'node:crypto';
import type { TraitSource } from '../entity/profile.entity';
import { ownValue, setOwn } from '../ingestion/own-key';
import type { IdentityRef, NormalizedMessage } from '../ingestion/segment-message.types';
import type { MergeProtection } from './merge-protection';
import { Survivorship } from './survivorship';

/** A profile as the resolver sees it while a batch is being applied. */
export interface ProfileState {
  id: string;
  createdAt: Date;
  mergedInto: string | null;
  traits: Record<string, unknown>;
  traitSources: Record<string, TraitSource>;
  identities: IdentityRef[];
  /** The row version as read, checked before writing. */
  version: number | null;
  /** Created by this batch (inserted, not updated). */
  isNew: boolean;
  /** Traits, identities or `mergedInto` changed by this batch: the row is locked and rewritten. */
  changed: boolean;
}

/** A merge decided while resolving. */
export interface PlannedMerge {
  survivorId: string;
  mergedId: string;
  rule: 'alias' | 'shared_identity';
  reason: { identities: IdentityRef[]; messageType: string };
  messageId: string;
}

/** A new identity to attach. */
export interface PlannedIdentity extends IdentityRef {
  profileId: string;
  firstSeenAt: Date;
}

const key = (id: IdentityRef) => `${id.type}\u0000${id.value}`;

/** Profiles are equal-aged only in tests; the id breaks the tie so every writer picks the same survivor. */
function older(a: ProfileState, b: ProfileState): [ProfileState, ProfileState] {
  const d = a.createdAt.getTime() - b.createdAt.getTime();
  return d < 0 || (d === 0 && a.id < b.id) ? [a, b] : [b, a];
}

/**
 * The identity graph of the profiles a batch touches, held in memory while the batch is resolved
 * (the rows are locked in PostgreSQL meanwhile). Resolution follows Segment Unify: a message's
 * identities are taken in priority order, and an identity that would push the resulting profile
 * over a per-type limit is dropped (reported as a warning) instead of linked.
 */
export class IdentityGraph {
  private readonly profiles = new Map<string, ProfileState>();
  private readonly owners = new Map<string, string>();
  readonly merges: PlannedMerge[] = [];
  readonly newIdentities: PlannedIdentity[] = [];
  private readonly limitChecks = new WeakMap<ProfileState, { count: number; over: boolean }>();

  constructor(
    private readonly protection: MergeProtection,
    private readonly survivorship: Survivorship = new Survivorship(),
    /** Name of the source (API key) the batch came from, recorded with each trait value. */
    private readonly source?: string,
  ) {}

  /** Loads a profile (and its identities) read from the database. */
  addProfile(p: ProfileState): void {
    this.profiles.set(p.id, p);
    for (const id of p.identities) this.owners.set(key(id), p.id);
  }

  /** The live profile an id resolves to (following merges). */
  find(id: string): ProfileState {
    let p = this.profiles.get(id)!;
    while (p.mergedInto) p = this.profiles.get(p.mergedInto)!;
    return p;
  }

  /** Profiles changed by the batch. */
  all(): ProfileState[] {
    return [...this.profiles.values()];
  }

  /** The owner of an identity, if any. */
  ownerOf(id: IdentityRef): ProfileState | undefined {
    const o = this.owners.get(key(id));
    return o ? this.find(o) : undefined;
  }

  /**
   * Applies one message: picks or creates its profile, merges profiles it proves are one person
   * (within the limits), attaches new identities and applies `identify` traits.
   * Returns the profile the message lands on and the identities that were dropped.
   */
  resolve(msg: NormalizedMessage): { profile: ProfileState; warnings: string[] } {
    // The common case, one identity a profile already holds: the general path below would accept
    // it (or not) by the limits of that profile's own identities, and land the message there.
    if (msg.identities.length === 1 && (msg.type !== 'alias' || !msg.previousId)) {
      const owner = this.ownerOf(msg.identities[0]);
      if (owner && !this.overLimit(owner)) {
        if (msg.type === 'identify') this.applyTraits(owner, msg);
        return { profile: owner, warnings: [] };
      }
    }
    // A new person, none of whose identities is known: the general path below would create a
    // profile and link the identities in priority order while each type stays within its limit.
    if (msg.type !== 'alias' && msg.identities.every((id) => !this.owners.has(key(id)))) return this.createFor(msg);
    const warnings: string[] = [];
    const accepted: IdentityRef[] = [];
    for (const id of this.protection.byPriority(this.identitiesOf(msg))) {
      const trial = [...accepted, id];
      const v = this.protection.violation(this.combined(trial));
      if (v) {
        const owner = this.ownerOf(id);
        warnings.push(
          `${id.type} "${id.value}" was not linked: ${owner ? 'merging its profile' : 'adding it'} would give one profile ${v.count} ${v.type} values (limit ${v.limit})`,
        );
        continue;
      }
      accepted.push(id);
    }

    const owners = [...new Set(accepted.map((id) => this.ownerOf(id)).filter((p): p is ProfileState => !!p))];
    let profile: ProfileState;
    if (owners.length === 0) {
      profile = this.create(msg.receivedAt);
    } else {
      profile = owners.reduce((a, b) => older(a, b)[0]);
      for (const other of owners) {
        if (other.id === profile.id) continue;
        this.merge(profile, other, msg, accepted);
      }
    }
    for (const id of accepted) {
      if (this.owners.has(key(id))) continue;
      this.owners.set(key(id), profile.id);
      profile.identities.push(id);
      profile.changed = true;
      this.newIdentities.push({ type: id.type, value: id.value, profileId: profile.id, firstSeenAt: msg.timestamp });
    }
    if (msg.type === 'identify') this.applyTraits(profile, msg);
    return { profile, warnings };
  }

  /** {@link resolve} for a message none of whose (distinct) identities has an owner yet. */
  private createFor(msg: NormalizedMessage): { profile: ProfileState; warnings: string[] } {
    const warnings: string[] = [];
    const counts = new Map<string, number>();
    const profile = this.create(msg.receivedAt);
    for (const id of this.protection.byPriority(msg.identities)) {
      if (this.owners.has(key(id))) continue; // named twice: linked already
      const count = (counts.get(id.type) ?? 0) + 1;
      const limit = this.protection.limit(id.type);
      if (count > limit) {
        warnings.push(`${id.type} "${id.value}" was not linked: adding it would give one profile ${count} ${id.type} values (limit ${limit})`);
        continue;
      }
      counts.set(id.type, count);
      this.owners.set(key(id), profile.id);
      profile.identities.push(id);
      this.newIdentities.push({ type: id.type, value: id.value, profileId: profile.id, firstSeenAt: msg.timestamp });
    }
    if (msg.type === 'identify') this.applyTraits(profile, msg);
    return { profile, warnings };
  }

  /**
   * Whether a profile's own identities already exceed a limit (a limit lowered after they were
   * linked), remembered while its identities stay as they are.
   */
  private overLimit(p: ProfileState): boolean {
    const known = this.limitChecks.get(p);
    if (known && known.count === p.identities.length) return known.over;
    const over = this.protection.violation(p.identities) !== null;
    this.limitChecks.set(p, { count: p.identities.length, over });
    return over;
  }

  /** Identities a message asserts. For alias, `previousId` is the id already known (user or anonymous). */
  private identitiesOf(msg: NormalizedMessage): IdentityRef[] {
    if (msg.type !== 'alias' || !msg.previousId) return msg.identities;
    const asUser = { type: 'user_id', value: msg.previousId };
    const asAnon = { type: 'anonymous_id', value: msg.previousId };
    const previous = this.ownerOf(asUser) ? asUser : asAnon;
    return [...msg.identities, previous];
  }

  /** Every identity the profile would hold if `ids` were linked: theirs, plus those of the profiles they own. */
  private combined(ids: IdentityRef[]): IdentityRef[] {
    const seen = new Set<string>();
    const all: IdentityRef[] = [];
    const push = (id: IdentityRef) => {
      if (!seen.has(key(id))) {
        seen.add(key(id));
        all.push(id);
      }
    };
    for (const id of ids) {
      const owner = this.ownerOf(id);
      if (owner) owner.identities.forEach(push);
      push(id);
    }
    return all;
  }

  private create(at: Date): ProfileState {
    const p: ProfileState = {
      id: randomUUID(), createdAt: at, mergedInto: null, traits: {}, traitSources: {}, identities: [],
      version: null, isNew: true, changed: true,
    };
    this.profiles.set(p.id, p);
    return p;
  }

  private merge(survivor: ProfileState, merged: ProfileState, msg: NormalizedMessage, ids: IdentityRef[]): void {
    merged.mergedInto = survivor.id;
    for (const id of merged.identities) this.owners.set(key(id), survivor.id);
    survivor.identities.push(...merged.identities);
    // Per trait, the survivorship rule picks the value; provenance travels with it.
    mergeTraits(this.survivorship, survivor, merged);
    survivor.changed = true;
    merged.changed = true;
    this.merges.push({
      survivorId: survivor.id, mergedId: merged.id, rule: msg.type === 'alias' ? 'alias' : 'shared_identity',
      reason: { identities: ids, messageType: msg.type }, messageId: msg.messageId,
    });
  }

  /** Applies identify traits: per key, a value only replaces one set at an earlier timestamp. */
  private applyTraits(p: ProfileState, msg: NormalizedMessage): void {
    const traits = { ...(msg.context.traits as Record<string, unknown> | undefined), ...msg.traits };
    const at = msg.timestamp.toISOString();
    for (const [k, v] of Object.entries(traits)) {
      const incoming = { value: v, source: { at, messageId: msg.messageId, profileId: p.id, ...(this.source ? { source: this.source } : {}) } };
      const known = ownValue(p.traitSources, k);
      const current = known ? { value: ownValue(p.traits, k), source: known } : undefined;
      if (this.survivorship.pick(k, current, incoming) !== incoming) continue; // e.g. a later value already arrived
      // Own keys only: a trait may be called `__proto__`, `constructor` or `hasOwnProperty`.
      if (v === null) delete p.traits[k];
      else setOwn(p.traits, k, v);
      p.changed = true;
      setOwn(p.traitSources, k, incoming.source);
    }
  }
}

/**
 * Folds the traits of `from` into `into` under the survivorship rules (provenance included). Keys
 * are own keys only, whatever their name (`__proto__` and `constructor` are traits like any other).
 */
export function mergeTraits(
  survivorship: Survivorship,
  into: { traits: Record<string, unknown>; traitSources: Record<string, TraitSource> },
  from: { traits: Record<string, unknown>; traitSources: Record<string, TraitSource> },
): void {
  for (const [k, src] of Object.entries(from.traitSources)) {
    if (!Object.hasOwn(from.traits, k)) continue;
    const incoming = { value: from.traits[k], source: src };
    const known = ownValue(into.traitSources, k);
    const current = known && Object.hasOwn(into.traits, k) ? { value: into.traits[k], source: known } : undefined;
    if (survivorship.pick(k, current, incoming) === incoming) {
      setOwn(into.traits, k, incoming.value);
      setOwn(into.traitSources, k, src);
    }
  }
}

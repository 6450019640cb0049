import DataLoader from 'dataloader';
import { pageShapeOf, PROFILE_ONLY } from '@rapport/core/internal';
import type { ConsentRecord, EventPageArgs, EventRecord, IdentityRecord, MergeRecord, Page, ProfileActivity, ProfileRecord, RapportCore, RapportServices } from '@rapport/core/internal';

/** Request-scoped loaders. Plugins add theirs under their own name. */
export interface Loaders {
  profile: DataLoader<string, ProfileRecord | null>;
  identities: DataLoader<string, IdentityRecord[]>;
  merges: DataLoader<string, MergeRecord[]>;
  activity: DataLoader<string, ProfileActivity>;
  mergeHistory: DataLoader<string, MergeRecord[]>;
  consents: DataLoader<string, ConsentRecord[]>;
  consentHistory: DataLoader<string, Array<ConsentRecord & { actor: string; recordedAt: Date }>>;
  events: DataLoader<{ profileId: string; args: EventPageArgs }, Page<EventRecord>, string>;
  /** Loaders plugins registered (their `loaders()` hook), by plugin name. */
  plugins: Record<string, Record<string, any>>;
}

const argsKey = pageShapeOf;

/**
 * The consents loader. It also answers at once, without a promise, for a profile whose consents
 * came with the profile's own statement (primed before any load of them): the field guard then
 * decides that profile's fields synchronously from the first one.
 */
export class ConsentLoader extends DataLoader<string, ConsentRecord[]> {
  private readonly primed = new Map<string, ConsentRecord[]>();
  /** Keys loaded before being primed: the loader keeps the loaded value, so they are never peeked. */
  private readonly loadedFirst = new Set<string>();

  override load(key: string): Promise<ConsentRecord[]> {
    if (!this.primed.has(key)) this.loadedFirst.add(key);
    return super.load(key);
  }

  override prime(key: string, value: ConsentRecord[] | PromiseLike<ConsentRecord[]> | Error): this {
    if (Array.isArray(value) && !this.loadedFirst.has(key) && !this.primed.has(key)) this.primed.set(key, value);
    return super.prime(key, value);
  }

  override clear(key: string): this {
    this.primed.delete(key);
    this.loadedFirst.delete(key);
    return super.clear(key);
  }

  override clearAll(): this {
    this.primed.clear();
    this.loadedFirst.clear();
    return super.clearAll();
  }

  /** The consents primed for `key` (the value `load(key)` resolves to), if any. */
  peek(key: string): ConsentRecord[] | undefined {
    return this.primed.get(key);
  }
}

/**
 * Creates the core loaders for one request. Each batches every read of one kind made while
 * resolving one level of a query into a single SQL statement.
 */
export function createCoreLoaders(services: RapportServices): Omit<Loaders, 'plugins'> {
  const consents = new ConsentLoader((ids: readonly string[]) => services.consent.consentsOf(ids));
  return {
    // A profile comes with its consents (one statement), which primes `consents`.
    profile: new DataLoader(async (ids) => {
      const rows = await services.profileBundles.read(ids, PROFILE_ONLY);
      for (const r of rows) if (r) consents.prime(r.profile.id, r.consents);
      return rows.map((r) => r?.profile ?? null);
    }),
    identities: new DataLoader((ids) => services.profiles.identitiesOf(ids)),
    merges: new DataLoader((ids) => services.profiles.mergedInto(ids)),
    activity: new DataLoader((ids) => services.profiles.activityOf(ids)),
    mergeHistory: new DataLoader((ids) => services.profiles.mergeHistoryOf(ids)),
    consents,
    consentHistory: new DataLoader((ids) => services.consent.historyOf(ids)),
    events: new DataLoader(
      async (reqs) => {
        // One statement per distinct (first, type, name); a query usually has exactly one.
        const groups = new Map<string, number[]>();
        reqs.forEach((r, i) => {
          const k = argsKey(r.args);
          const list = groups.get(k) ?? [];
          list.push(i);
          groups.set(k, list);
        });
        const out: Array<Page<EventRecord> | Error> = new Array(reqs.length);
        await Promise.all(
          [...groups.values()].map(async (idx) => {
            try {
              const pages = await services.eventPages.pagesOf(idx.map((i) => reqs[i]));
              idx.forEach((i, j) => (out[i] = pages[j]));
            } catch (err) {
              idx.forEach((i) => (out[i] = err as Error));
            }
          }),
        );
        return out;
      },
      { cacheKeyFn: (r) => `${r.profileId}|${r.args.after ?? ''}|${argsKey(r.args)}` },
    ),
  };
}

/** Core loaders plus every plugin's, for one request. */
export function createLoaders(core: RapportCore): Loaders {
  const plugins: Loaders['plugins'] = {};
  for (const p of core.plugins) if (p.loaders) plugins[p.name] = p.loaders(core.pluginContext(p));
  return { ...createCoreLoaders(core.services), plugins };
}

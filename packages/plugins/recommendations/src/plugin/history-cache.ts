import type { InteractionRow } from './store';

/**
 * Each profile's current interactions, kept in memory between requests so that reading
 * recommendations does not re-read (and re-parse) them from PostgreSQL every time.
 *
 * Correctness rests on invalidation, not on expiry: this process drops a profile the moment it
 * writes the profile's interactions (event, merge, erasure), and other processes drop it when the
 * write's notification arrives (see `Runtime`). While notifications are not being received the
 * cache serves nothing from memory, and a read that raced with an invalidation is not stored.
 * Bounded: least recently used profiles are evicted beyond `maxProfiles`; 0 turns caching off.
 */
export class HistoryCache {
  private readonly entries = new Map<string, InteractionRow[]>();
  /** Bumped by every invalidation; a load that saw it change does not store its (maybe stale) rows. */
  private epoch = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxProfiles: number,
    /** False while invalidations from other processes may be missed (notifications down). */
    private readonly trusted: () => boolean,
  ) {}

  /** The interactions of each profile, from memory when cached, else from `load` (one call for all misses). */
  async get(ids: readonly string[], load: (ids: readonly string[]) => Promise<InteractionRow[][]>): Promise<InteractionRow[][]> {
    const useCache = this.maxProfiles > 0 && this.trusted();
    const out: Array<InteractionRow[] | undefined> = ids.map((id) => {
      if (!useCache) return undefined;
      const hit = this.entries.get(id);
      if (hit) {
        this.entries.delete(id); // re-insert: Map order is the LRU order
        this.entries.set(id, hit);
      }
      return hit;
    });
    const missing = ids.filter((_, k) => out[k] === undefined);
    this.hits += ids.length - missing.length;
    this.misses += missing.length;
    if (!missing.length) return out as InteractionRow[][];
    const epoch = this.epoch;
    const loaded = await load(missing);
    const store = useCache && epoch === this.epoch && this.trusted();
    let m = 0;
    return out.map((rows) => {
      if (rows) return rows;
      const fresh = loaded[m];
      if (store) this.put(missing[m], fresh);
      m++;
      return fresh;
    });
  }

  /** Forgets these profiles (their interactions changed). */
  invalidate(ids: Iterable<string>): void {
    this.epoch++;
    for (const id of ids) this.entries.delete(id);
  }

  /** Forgets everything (notifications were lost). */
  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private put(id: string, rows: InteractionRow[]): void {
    this.entries.set(id, rows);
    if (this.entries.size > this.maxProfiles) this.entries.delete(this.entries.keys().next().value as string);
  }
}

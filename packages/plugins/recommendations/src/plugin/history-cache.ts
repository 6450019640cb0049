import type { InteractionRow } from './store';

/**
 * Each profile's current interactions, kept in memory between requests so that reading
 * recommendations does not re-read (and re-parse) them from PostgreSQL every time.
 *
 * Correctness rests on invalidation, not on expiry: this process drops a profile the moment it
 * writes the profile's interactions (event, merge, erasure), and other processes drop it when the
 * write's notification arrives (see `Runtime`). While notifications are not being received the
 * cache serves nothing from memory. A read is not stored for a profile invalidated while the read
 * was in flight (its rows may predate the write), nor at all after a `clear`; reads of other
 * profiles are stored, so a busy cluster's stream of invalidations does not stop caching.
 * Bounded: least recently used profiles are evicted beyond `maxProfiles`; 0 turns caching off.
 */
export class HistoryCache {
  private readonly entries = new Map<string, InteractionRow[]>();
  /** Bumped by every invalidation and clear. */
  private epoch = 0;
  /** The epoch of the last `clear`: a load that started before it stores nothing. */
  private clearedAt = 0;
  /** Profiles invalidated while loads were in flight, with the epoch of their last invalidation. */
  private readonly invalidatedAt = new Map<string, number>();
  /** The epoch each in-flight load started at (a multiset: epoch -> count). */
  private readonly inFlight = new Map<number, number>();
  /** Size of `invalidatedAt` at which `loadEnded` prunes it (doubles while a long load pins old marks). */
  private pruneAt = 1024;
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
    const started = this.epoch;
    this.inFlight.set(started, (this.inFlight.get(started) ?? 0) + 1);
    let loaded: InteractionRow[][];
    try {
      loaded = await load(missing);
    } catch (err) {
      this.loadEnded(started);
      throw err;
    }
    const store = useCache && this.clearedAt <= started && this.trusted();
    let m = 0;
    const result = out.map((rows) => {
      if (rows) return rows;
      const id = missing[m];
      const fresh = loaded[m];
      if (store && (this.invalidatedAt.get(id) ?? 0) <= started) this.put(id, fresh);
      m++;
      return fresh;
    });
    this.loadEnded(started); // after the checks above: it may drop the marks they read
    return result;
  }

  /** Forgets these profiles (their interactions changed). */
  invalidate(ids: Iterable<string>): void {
    this.epoch++;
    for (const id of ids) {
      this.entries.delete(id);
      if (this.inFlight.size > 0) this.invalidatedAt.set(id, this.epoch); // only in-flight loads need to know
    }
  }

  /** Forgets everything (notifications were lost). */
  clear(): void {
    this.epoch++;
    this.clearedAt = this.epoch;
    this.entries.clear();
  }

  /** Drops the invalidation marks no in-flight load can be older than (all of them when none is left). */
  private loadEnded(started: number): void {
    const n = this.inFlight.get(started)! - 1;
    if (n > 0) this.inFlight.set(started, n);
    else this.inFlight.delete(started);
    if (this.inFlight.size === 0) {
      this.invalidatedAt.clear();
      this.pruneAt = 1024;
    } else if (this.invalidatedAt.size > this.pruneAt) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const at of this.inFlight.keys()) oldest = Math.min(oldest, at);
      for (const [id, at] of this.invalidatedAt) if (at <= oldest) this.invalidatedAt.delete(id);
      this.pruneAt = Math.max(1024, 2 * this.invalidatedAt.size);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private put(id: string, rows: InteractionRow[]): void {
    this.entries.set(id, rows);
    if (this.entries.size > this.maxProfiles) this.entries.delete(this.entries.keys().next().value as string);
  }
}

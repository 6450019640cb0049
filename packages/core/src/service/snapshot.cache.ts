/**
 * A value read from the database and kept for `ttlMs` (field policies, purposes): every request asks
 * for it, so when it is stale one reload serves every caller that asks meanwhile, instead of each
 * sending the same statement. A change on this node calls {@link invalidate}: the next caller reads
 * afresh, and a reload that started before the change is neither kept nor handed to later callers.
 */
export class SnapshotCache<T> {
  private value: { v: T; until: number } | null = null;
  /** Bumped by {@link invalidate}: a reload started under an older version is not kept. */
  private version = 0;
  private loading: { version: number; promise: Promise<T> } | null = null;

  constructor(private readonly load: () => Promise<T>, private readonly ttlMs: number) {}

  /** The value while it is fresh, else undefined (then {@link get} reloads it). */
  fresh(): T | undefined {
    return this.value && this.value.until > Date.now() ? this.value.v : undefined;
  }

  /** The value: the kept one while fresh, else the reload in flight for the current version, else a new reload. */
  get(): Promise<T> {
    const kept = this.fresh();
    if (kept !== undefined) return Promise.resolve(kept);
    if (this.loading && this.loading.version === this.version) return this.loading.promise;
    const version = this.version;
    const promise = this.load().then(
      (v) => {
        if (version === this.version) this.value = { v, until: Date.now() + this.ttlMs };
        if (this.loading?.promise === promise) this.loading = null;
        return v;
      },
      (err: unknown) => {
        if (this.loading?.promise === promise) this.loading = null;
        throw err;
      },
    );
    this.loading = { version, promise };
    return promise;
  }

  /** Forgets the value (a change on this node): the next {@link get} reads afresh. */
  invalidate(): void {
    this.value = null;
    this.version++;
  }
}

/** One caller's share of a coalesced read. */
interface Waiter<V> {
  keys: readonly string[];
  resolve(found: Map<string, V>): void;
  reject(err: unknown): void;
}

/**
 * Answers the reads of concurrent callers with one statement. Calls made before the event loop
 * next reaches its check phase (`setImmediate`) are collected, their distinct keys loaded by one
 * `load`, and each caller gets a map of its own keys. Under load, the requests whose bytes arrived
 * in the same poll of the event loop then share one round trip to PostgreSQL instead of making one
 * each; an idle server waits for nothing but the rest of the current event-loop turn.
 *
 * For plain reads by key outside any transaction (each caller sees rows at least as new as its
 * call). Values are not shared between callers: a key two callers ask for in the same batch is
 * cloned for the second, so a caller may change what it gets. A failed load fails every caller of
 * its batch.
 */
export class ReadCoalescer<V> {
  private waiters: Array<Waiter<V>> = [];
  private keys = new Set<string>();
  private scheduled = false;
  /** Loads issued and calls answered, for tests and metrics. */
  readonly stats = { loads: 0, calls: 0 };

  constructor(
    private readonly load: (keys: string[]) => Promise<Map<string, V>>,
    private readonly clone: (value: V) => V = structuredClone,
    /** A batch reaching this many distinct keys is loaded at once. */
    private readonly maxKeys = 1000,
  ) {}

  /** The values of `keys` that exist (absent keys are missing from the map). */
  get(keys: readonly string[]): Promise<Map<string, V>> {
    this.stats.calls++;
    return new Promise((resolve, reject) => {
      this.waiters.push({ keys, resolve, reject });
      for (const k of keys) this.keys.add(k);
      if (this.keys.size >= this.maxKeys) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const waiters = this.waiters;
    const keys = [...this.keys];
    if (!waiters.length) return;
    this.waiters = [];
    this.keys = new Set();
    this.stats.loads++;
    // `load` runs in a promise job: a synchronous throw becomes a rejection, as an async one would.
    Promise.resolve()
      .then(() => this.load(keys))
      .then(
        (found) => {
          const handedOut = new Set<string>();
          for (const w of waiters) {
            try {
              const mine = new Map<string, V>();
              for (const k of w.keys) {
                const v = found.get(k);
                if (v === undefined || mine.has(k)) continue;
                mine.set(k, handedOut.has(k) ? this.clone(v) : v);
                handedOut.add(k);
              }
              w.resolve(mine);
            } catch (err) {
              w.reject(err); // e.g. a value `clone` cannot copy: this caller fails, the others still get theirs
            }
          }
        },
        (err) => {
          for (const w of waiters) w.reject(err);
        },
      );
  }
}

import type { HistoryEntry } from './model.types';

/** One raw interaction (implicit feedback). */
export interface Interaction {
  user: string | number;
  item: string | number;
  /** Default 1. Repeated (user, item) pairs add up. */
  weight?: number;
  /** Epoch milliseconds. Repeated pairs keep the latest. */
  timestamp?: number;
}

/** Compressed-sparse-row parts of an {@link InteractionMatrix}. */
export interface CsrParts {
  userIds: readonly string[];
  itemIds: readonly string[];
  /** `indptr[u]..indptr[u+1]` are user u's entries; length numUsers + 1. */
  indptr: Int32Array;
  /** Item index of each entry, ascending within a user. */
  indices: Int32Array;
  values: Float32Array;
  /** Epoch milliseconds per entry, when known. */
  timestamps?: Float64Array;
}

/**
 * Users x items matrix of weighted implicit feedback, stored as CSR.
 * Users and items are dense indices; `userIds` / `itemIds` map them back to external ids.
 */
export class InteractionMatrix {
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
  readonly timestamps?: Float64Array;

  constructor(parts: CsrParts) {
    if (parts.indptr.length !== parts.userIds.length + 1) throw new RangeError('indptr length must be numUsers + 1');
    if (parts.indices.length !== parts.values.length) throw new RangeError('indices and values differ in length');
    this.userIds = parts.userIds;
    this.itemIds = parts.itemIds;
    this.indptr = parts.indptr;
    this.indices = parts.indices;
    this.values = parts.values;
    this.timestamps = parts.timestamps;
  }

  get numUsers(): number {
    return this.userIds.length;
  }

  get numItems(): number {
    return this.itemIds.length;
  }

  /** Number of stored (user, item) entries. */
  get nnz(): number {
    return this.indices.length;
  }

  /**
   * Builds a matrix from raw interactions. Ids are kept in first-seen order unless `itemIds`
   * fixes the item universe (unknown items then throw).
   */
  static fromInteractions(rows: Iterable<Interaction>, opts: { itemIds?: readonly string[] } = {}): InteractionMatrix {
    const userIndex = new Map<string, number>();
    const itemIndex = new Map<string, number>();
    const userIds: string[] = [];
    const itemIds: string[] = opts.itemIds ? [...opts.itemIds] : [];
    itemIds.forEach((id, i) => itemIndex.set(id, i));
    const perUser: Array<Map<number, { w: number; t: number }>> = [];
    let anyTime = false;
    for (const r of rows) {
      const uid = String(r.user);
      const iid = String(r.item);
      let u = userIndex.get(uid);
      if (u === undefined) {
        u = userIds.push(uid) - 1;
        userIndex.set(uid, u);
        perUser.push(new Map());
      }
      let i = itemIndex.get(iid);
      if (i === undefined) {
        if (opts.itemIds) throw new RangeError(`Unknown item id ${iid}`);
        i = itemIds.push(iid) - 1;
        itemIndex.set(iid, i);
      }
      const t = r.timestamp ?? Number.NaN;
      if (!Number.isNaN(t)) anyTime = true;
      const prev = perUser[u].get(i);
      if (prev) {
        prev.w += r.weight ?? 1;
        if (!(prev.t >= t)) prev.t = t;
      } else perUser[u].set(i, { w: r.weight ?? 1, t });
    }
    const lists = perUser.map((m) => [...m.entries()].sort((a, b) => a[0] - b[0]));
    return InteractionMatrix.fromUserLists(userIds, itemIds, lists.map((l) => l.map(([item, e]) => ({ item, weight: e.w, timestamp: e.t }))), anyTime);
  }

  /** Builds a matrix from per-user entry lists over an existing index space. */
  static fromUserLists(
    userIds: readonly string[],
    itemIds: readonly string[],
    lists: ReadonlyArray<ReadonlyArray<{ item: number; weight: number; timestamp?: number }>>,
    withTimestamps = lists.some((l) => l.some((e) => e.timestamp !== undefined && !Number.isNaN(e.timestamp))),
  ): InteractionMatrix {
    const nnz = lists.reduce((s, l) => s + l.length, 0);
    const indptr = new Int32Array(userIds.length + 1);
    const indices = new Int32Array(nnz);
    const values = new Float32Array(nnz);
    const timestamps = withTimestamps ? new Float64Array(nnz) : undefined;
    let p = 0;
    lists.forEach((list, u) => {
      const sorted = [...list].sort((a, b) => a.item - b.item);
      for (const e of sorted) {
        indices[p] = e.item;
        values[p] = e.weight;
        if (timestamps) timestamps[p] = e.timestamp ?? Number.NaN;
        p++;
      }
      indptr[u + 1] = p;
    });
    return new InteractionMatrix({ userIds, itemIds, indptr, indices, values, timestamps });
  }

  /** Number of entries of user `u`. */
  rowLength(u: number): number {
    return this.indptr[u + 1] - this.indptr[u];
  }

  /** User `u`'s history, the input of `Recommender.scoreUser`. */
  history(u: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let p = this.indptr[u]; p < this.indptr[u + 1]; p++) out.push({ item: this.indices[p], weight: this.values[p] });
    return out;
  }

  /** Number of users who interacted with each item. */
  itemUserCounts(): Int32Array {
    const c = new Int32Array(this.numItems);
    for (let p = 0; p < this.indices.length; p++) c[this.indices[p]]++;
    return c;
  }

  /**
   * Dense row-major block of users `users` restricted to the columns `columnOf` maps
   * (item -> column, -1 = dropped); `numColumns` wide.
   */
  denseRows(users: ArrayLike<number>, columnOf: Int32Array, numColumns: number): Float32Array {
    const out = new Float32Array(users.length * numColumns);
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      for (let p = this.indptr[u]; p < this.indptr[u + 1]; p++) {
        const c = columnOf[this.indices[p]];
        if (c >= 0) out[r * numColumns + c] = this.values[p];
      }
    }
    return out;
  }
}

import { decodeFloat32, encodeFloat32 } from './binary-codec';
import type { InteractionMatrix } from './interaction-matrix';
import type { Explanation, FitOptions, HistoryEntry, Recommender, SerializedModel } from './model.types';

/** Hyperparameters of {@link PopularityModel}. */
export interface PopularityOptions {
  /**
   * Trending mode: each interaction counts `0.5 ^ (age / halfLife)`, age measured from `now`.
   * Omit for plain most-popular (sum of weights). Needs timestamps in the matrix.
   */
  halfLifeDays?: number;
  /** Reference time (epoch ms) for the decay. Default: the latest timestamp in the matrix. */
  now?: number;
  /** Categories of each item (by dense index), for {@link PopularityModel.scoreCategory}. */
  itemCategories?: ReadonlyArray<readonly string[] | undefined>;
}

/** JSON form of {@link PopularityModel}. */
export interface PopularityJSON extends SerializedModel {
  type: 'popularity';
  halfLifeDays: number | null;
  scores: string;
  categories: Record<string, number[]>;
}

const DAY_MS = 86_400_000;

/**
 * Most-popular / trending baseline: the same ranking for everyone (callers drop what the user
 * already has), optionally time-decayed, optionally restricted to a category.
 */
export class PopularityModel implements Recommender {
  readonly name = 'popularity';
  private scores: Float32Array = new Float32Array(0);
  private itemIds: string[] = [];
  private categories = new Map<string, number[]>();

  constructor(private readonly options: PopularityOptions = {}) {}

  async fit(matrix: InteractionMatrix, _opts?: FitOptions): Promise<void> {
    const { halfLifeDays, itemCategories } = this.options;
    const scores = new Float32Array(matrix.numItems);
    const ts = matrix.timestamps;
    if (halfLifeDays !== undefined && !ts) throw new Error('trending popularity needs timestamps');
    let now = this.options.now ?? Number.NEGATIVE_INFINITY;
    if (halfLifeDays !== undefined && this.options.now === undefined) for (const t of ts!) if (t > now) now = t;
    const rate = halfLifeDays !== undefined ? Math.LN2 / (halfLifeDays * DAY_MS) : 0;
    for (let p = 0; p < matrix.nnz; p++) {
      const decay = rate > 0 && !Number.isNaN(ts![p]) ? Math.exp(-rate * Math.max(0, now - ts![p])) : 1;
      scores[matrix.indices[p]] += matrix.values[p] * decay;
    }
    this.scores = scores;
    this.itemIds = [...matrix.itemIds];
    this.categories = new Map();
    itemCategories?.forEach((cats, item) => {
      for (const c of cats ?? []) {
        const list = this.categories.get(c) ?? [];
        list.push(item);
        this.categories.set(c, list);
      }
    });
  }

  /** Popularity of every item; the history is not used. */
  scoreUser(_history: readonly HistoryEntry[] = []): Float32Array {
    return this.scores.slice();
  }

  /** Popularity within `category`; items outside it score `-Infinity`. */
  scoreCategory(category: string): Float32Array {
    const out = new Float32Array(this.scores.length).fill(Number.NEGATIVE_INFINITY);
    for (const i of this.categories.get(category) ?? []) out[i] = this.scores[i];
    return out;
  }

  explain(_history: readonly HistoryEntry[], _item: number): Explanation {
    return { reason: this.options.halfLifeDays !== undefined ? 'trending' : 'popular' };
  }

  toJSON(): PopularityJSON {
    return {
      type: 'popularity',
      version: 1,
      itemIds: this.itemIds,
      halfLifeDays: this.options.halfLifeDays ?? null,
      scores: encodeFloat32(this.scores),
      categories: Object.fromEntries(this.categories),
    };
  }

  static fromJSON(json: PopularityJSON): PopularityModel {
    const m = new PopularityModel(json.halfLifeDays === null ? {} : { halfLifeDays: json.halfLifeDays });
    m.scores = decodeFloat32(json.scores);
    m.itemIds = [...json.itemIds];
    m.categories = new Map(Object.entries(json.categories));
    return m;
  }
}

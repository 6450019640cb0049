import { decodeFloat32, encodeFloat32 } from './binary-codec';
import type { InteractionMatrix } from './interaction-matrix';
import { ItemNeighbours, type ItemNeighboursJSON } from './item-neighbours';
import type { Explanation, FitOptions, HistoryEntry, Recommender, SerializedModel } from './model.types';
import { popularityPrior, topK } from './ranking';
import { initTensorflow } from './tensorflow';

/** Hyperparameters of {@link ItemKnnModel}. */
export interface ItemKnnOptions {
  /** Neighbours kept per target item. Default 100. */
  neighbours?: number;
  /** Shrinkage added to the cosine denominator (damps items with little support). Default 10. */
  shrink?: number;
}

/** JSON form of {@link ItemKnnModel}. */
export interface ItemKnnJSON extends SerializedModel {
  type: 'item-knn';
  options: ItemKnnOptions;
  neighbours: ItemNeighboursJSON;
  prior: string;
}

/**
 * Item-based k-nearest-neighbours with cosine similarity between item columns:
 * score(j) = Σ over history items i among j's neighbours of weight(i) · sim(i, j).
 * Co-occurrences are computed with matMul on the tfjs backend, a block of target items at a time.
 */
export class ItemKnnModel implements Recommender {
  readonly name = 'item-knn';
  private table = new ItemNeighbours(0, new Int32Array(1), new Int32Array(0), new Float32Array(0));
  private prior: Float32Array = new Float32Array(0);
  private itemIds: string[] = [];

  constructor(private readonly options: ItemKnnOptions = {}) {}

  async fit(matrix: InteractionMatrix, opts: FitOptions = {}): Promise<void> {
    const { tf } = await initTensorflow();
    const n = matrix.numItems;
    const k = this.options.neighbours ?? 100;
    const shrink = this.options.shrink ?? 10;
    const norms = new Float64Array(n);
    for (let p = 0; p < matrix.nnz; p++) norms[matrix.indices[p]] += matrix.values[p] ** 2;
    for (let i = 0; i < n; i++) norms[i] = Math.sqrt(norms[i]);
    const allColumns = Int32Array.from({ length: n }, (_, i) => i);
    const userBatch = Math.max(1, Math.floor(16_000_000 / Math.max(1, n)));
    const itemBlock = Math.max(1, Math.min(1024, Math.floor(32_000_000 / Math.max(1, n))));
    const lists: Array<{ sources: number[]; weights: number[] }> = [];
    const sims = new Float32Array(n);
    for (let j0 = 0; j0 < n; j0 += itemBlock) {
      const bs = Math.min(itemBlock, n - j0);
      opts.onProgress?.({ model: this.name, message: `similarities of items ${j0}..${j0 + bs - 1}` });
      let cooc = tf.zeros([bs, n]);
      for (let u0 = 0; u0 < matrix.numUsers; u0 += userBatch) {
        const users = Array.from({ length: Math.min(userBatch, matrix.numUsers - u0) }, (_, q) => u0 + q);
        const next = tf.tidy(() => {
          const x = tf.tensor2d(matrix.denseRows(users, allColumns, n), [users.length, n]);
          return tf.add(cooc, tf.matMul(tf.transpose(tf.slice(x, [0, j0], [users.length, bs])), x)); // explicit transpose: faster on wasm
        });
        cooc.dispose();
        cooc = next;
      }
      const data = cooc.dataSync();
      cooc.dispose();
      for (let r = 0; r < bs; r++) {
        const j = j0 + r;
        for (let i = 0; i < n; i++) {
          const c = data[r * n + i];
          sims[i] = c > 0 ? c / (norms[i] * norms[j] + shrink) : 0;
        }
        const best = topK(sims, k, [j]).filter((i) => sims[i] > 0);
        lists.push({ sources: best, weights: best.map((i) => sims[i]) });
      }
    }
    this.table = ItemNeighbours.fromTargetLists(n, lists);
    this.prior = popularityPrior(matrix.itemUserCounts());
    this.itemIds = [...matrix.itemIds];
  }

  scoreUser(history: readonly HistoryEntry[]): Float32Array {
    return this.table.accumulate(history, this.prior.slice());
  }

  explain(history: readonly HistoryEntry[], item: number): Explanation {
    return this.table.explain(history, item) ?? { reason: 'popular' };
  }

  toJSON(): ItemKnnJSON {
    return {
      type: 'item-knn',
      version: 1,
      itemIds: this.itemIds,
      options: this.options,
      neighbours: this.table.toJSON(),
      prior: encodeFloat32(this.prior),
    };
  }

  static fromJSON(json: ItemKnnJSON): ItemKnnModel {
    const m = new ItemKnnModel(json.options);
    m.table = ItemNeighbours.fromJSON(json.neighbours);
    m.prior = decodeFloat32(json.prior);
    m.itemIds = [...json.itemIds];
    return m;
  }
}

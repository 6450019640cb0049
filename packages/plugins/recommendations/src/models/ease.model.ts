import { decodeFloat32, encodeFloat32 } from './binary-codec';
import { invertSpd } from './dense-linalg';
import type { InteractionMatrix } from './interaction-matrix';
import { DenseItemWeights, type DenseItemWeightsJSON } from './dense-item-weights';
import { ItemNeighbours, type ItemNeighboursJSON } from './item-neighbours';
import type { Explanation, FitOptions, HistoryEntry, Recommender, SerializedModel } from './model.types';
import { popularityPrior } from './ranking';
import { initTensorflow } from './tensorflow';

/** Hyperparameters of {@link EaseModel}. */
export interface EaseOptions {
  /** L2 regularisation λ. Default 200. */
  lambda?: number;
  /**
   * Only items with at least this many users enter the item-item matrix (the others rank below,
   * by popularity). Default 5: on MovieLens this costs no accuracy and shrinks the O(n^3) inverse.
   */
  minItemUsers?: number;
  /** Upper bound on that item set (most popular kept). Default 6000 (≈ 25 s inverse on wasm, 144 MB of weights). */
  maxItems?: number;
  /**
   * Keep only this many largest-magnitude weights per source item (sparse storage for large
   * catalogues). Default: keep B dense, which is exact; pruning to 300 cost ~2-3% NDCG@10 on MovieLens.
   */
  neighbours?: number;
  /** Block size of the blocked inverse. Default 256. */
  blockSize?: number;
}

/** JSON form of {@link EaseModel}. */
export interface EaseJSON extends SerializedModel {
  type: 'ease';
  options: EaseOptions;
  weights: { kind: 'dense'; dense: DenseItemWeightsJSON } | { kind: 'sparse'; sparse: ItemNeighboursJSON };
  prior: string;
}

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): item-item weights in closed form,
 * B = I - P diag(1/diag(P)) with P = (XᵀX + λI)⁻¹, zero diagonal. Score = history · B.
 * The inverse runs on the tfjs backend (blocked Gauss-Jordan); B is kept dense over the items with
 * enough support (or pruned, see {@link EaseOptions.neighbours}).
 */
export class EaseModel implements Recommender {
  readonly name = 'ease';
  private table: DenseItemWeights | ItemNeighbours = new ItemNeighbours(0, new Int32Array(1), new Int32Array(0), new Float32Array(0));
  private prior: Float32Array = new Float32Array(0);
  private itemIds: string[] = [];

  constructor(private readonly options: EaseOptions = {}) {}

  async fit(matrix: InteractionMatrix, opts: FitOptions = {}): Promise<void> {
    const { tf } = await initTensorflow();
    const lambda = this.options.lambda ?? 200;
    const counts = matrix.itemUserCounts();
    const candidates = [...counts.keys()].filter((i) => counts[i] >= (this.options.minItemUsers ?? 5));
    candidates.sort((a, b) => counts[b] - counts[a] || a - b);
    const items = Int32Array.from(candidates.slice(0, this.options.maxItems ?? 6000)).sort();
    const n = items.length;
    const columnOf = new Int32Array(matrix.numItems).fill(-1);
    items.forEach((item, c) => (columnOf[item] = c));
    opts.onProgress?.({ model: this.name, message: `inverting ${n} x ${n}` });

    let P: Float32Array = new Float32Array(0);
    if (n > 0) {
      let gram = tf.mul(tf.eye(n), lambda) as ReturnType<typeof tf.tensor2d>;
      const batch = Math.max(1, Math.floor(16_000_000 / n));
      for (let u0 = 0; u0 < matrix.numUsers; u0 += batch) {
        const users = Array.from({ length: Math.min(batch, matrix.numUsers - u0) }, (_, k) => u0 + k);
        const next = tf.tidy(() => {
          const x = tf.tensor2d(matrix.denseRows(users, columnOf, n), [users.length, n]);
          return tf.add(gram, tf.matMul(tf.transpose(x), x)) as typeof gram; // explicit transpose: ~7x faster on wasm
        });
        gram.dispose();
        gram = next;
      }
      const inverse = invertSpd(tf, gram, this.options.blockSize ?? 256);
      gram.dispose();
      P = (await inverse.data()) as Float32Array;
      inverse.dispose();
    }

    // B[r, c] = -P[r, c] / P[c, c], zero diagonal (sub-indices; `items` maps them back).
    const diag = Float32Array.from({ length: n }, (_, c) => P[c * n + c]);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) P[r * n + c] = r === c ? 0 : -P[r * n + c] / diag[c];
    }
    const keep = this.options.neighbours;
    this.table =
      keep === undefined
        ? new DenseItemWeights(matrix.numItems, items, P)
        : ItemNeighbours.fromDenseRows(matrix.numItems, keep, (source, row) => {
            const r = columnOf[source];
            if (r < 0) return false;
            for (let c = 0; c < n; c++) row[items[c]] = P[r * n + c];
            return true;
          });
    this.prior = popularityPrior(counts);
    this.itemIds = [...matrix.itemIds];
  }

  scoreUser(history: readonly HistoryEntry[]): Float32Array {
    return this.table.accumulate(history, this.prior.slice());
  }

  explain(history: readonly HistoryEntry[], item: number): Explanation {
    return this.table.explain(history, item) ?? { reason: 'popular' };
  }

  toJSON(): EaseJSON {
    return {
      type: 'ease',
      version: 1,
      itemIds: this.itemIds,
      options: this.options,
      weights:
        this.table instanceof DenseItemWeights ? { kind: 'dense', dense: this.table.toJSON() } : { kind: 'sparse', sparse: this.table.toJSON() },
      prior: encodeFloat32(this.prior),
    };
  }

  static fromJSON(json: EaseJSON): EaseModel {
    const m = new EaseModel(json.options);
    m.table = json.weights.kind === 'dense' ? DenseItemWeights.fromJSON(json.weights.dense) : ItemNeighbours.fromJSON(json.weights.sparse);
    m.prior = decodeFloat32(json.prior);
    m.itemIds = [...json.itemIds];
    return m;
  }
}

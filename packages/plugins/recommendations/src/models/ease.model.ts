import { decodeFloat32, encodeFloat32 } from './binary-codec';
import { invertSpd } from './dense-linalg';
import type { InteractionMatrix } from './interaction-matrix';
import { DenseItemWeights, type DenseItemWeightsJSON, type WeightPrecision } from './dense-item-weights';
import { ItemNeighbours, type ItemNeighboursJSON } from './item-neighbours';
import type { Explanation, FitOptions, HistoryEntry, Recommender, SerializedModel } from './model.types';
import { popularityPrior, topK } from './ranking';
import { initTensorflow, type Tf } from './tensorflow';
import { checkTimeKernel, timeKernelGram, type TimeKernelOptions } from './time-kernel';
import { validationNdcg, validationSplit } from './validation';
import { EaseWeightSolver } from './weighted-ease';

type Tensor2D = ReturnType<Tf['tensor2d']>;

/** Hyperparameters of {@link EaseModel}. */
export interface EaseOptions {
  /** L2 regularisation λ (P = (XᵀX + λI)⁻¹). Default 200. Ignored when {@link EaseOptions.tune} picks one. */
  lambda?: number;
  /**
   * Weight of the observed (user, item) entries in the squared loss, the unobserved ones weighing 1
   * (the confidence weighting of weighted matrix factorisation, applied to EASE; see
   * {@link EaseWeightSolver}). Default 1: plain EASE. Values > 1 stop the model from learning to
   * predict 0 for a user's not-yet-seen items as firmly as it learns the seen ones. Costs one
   * |users of j| x |users of j| Cholesky per item on top of the inverse; at most
   * `MAX_WEIGHTED_EASE_USERS` (10 000) users. Ignored when {@link EaseOptions.tune} picks one.
   */
  observedWeight?: number;
  /**
   * Choose `lambda` and `observedWeight` on a validation split carved out of the matrix given to
   * `fit` (see {@link EaseTuneOptions}), then refit on the whole matrix with the best pair.
   * `true` = the default grid. Default: off (use `lambda` / `observedWeight` as given).
   */
  tune?: boolean | EaseTuneOptions;
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
  /**
   * How the dense weights are stored and served (see {@link WeightPrecision}). Default `int8`: a
   * quarter of the memory and about half the scoring time of `float32`, for an NDCG@10 change of
   * at most 0.0005 on MovieLens. `float32` keeps the fitted weights exactly.
   */
  precision?: WeightPrecision;
  /**
   * Time-kernel co-occurrence: the Gram matrix becomes XᵀX + γ Σ_u X_uᵀ K_u X_u with
   * K_u(p, q) = exp(−|t_p − t_q| / τ) over each user's interactions, so items taken close together
   * in time count as more related (see {@link TimeKernelOptions}). Needs the matrix's timestamps at
   * `fit`; scoring is unchanged. Default: off (plain EASE). On MovieLens-latest-small
   * `{ tauSeconds: 150, weight: 4 }` with `lambda: 500` (the evaluation's `ease-time`) gained about
   * 6% NDCG@10 over EASE on the random 80/20 test split. Not combinable with `observedWeight` > 1 or
   * `tune`, whose solver assumes the Gram matrix is XᵀX. `false` is off.
   */
  timeKernel?: TimeKernelOptions | false;
}

/**
 * Grid and split of {@link EaseOptions.tune}. Every (lambda, observedWeight) pair is fitted on the
 * training part of the split and scored by NDCG@k on its held-out part; ties go to the earlier pair.
 * One inverse per lambda serves every observedWeight. The defaults were fixed once, from
 * validation runs only (never a test split), and cover plain EASE (observedWeight 1).
 *
 * Caveat: the validation fit sees 80% of the training interactions, so it favours settings that
 * help on sparser data. On MovieLens-latest-small the pairs it chose (lambda 250-1000,
 * observedWeight 4-16) scored 0.5% below plain EASE (lambda 200) on the 80/20 test split, on
 * average over seeds 1-5 and 42.
 */
export interface EaseTuneOptions {
  /** Default [250, 500, 1000]. */
  lambdas?: number[];
  /** Default [1, 4, 8, 16]. */
  observedWeights?: number[];
  /** Share of each user's interactions held out (users with >= 5 interactions). Default 0.2. */
  fraction?: number;
  /** Seed of the validation split. Default 42. */
  seed?: number;
  /** Cut-off of the validation NDCG. Default 10. */
  k?: number;
}

/** Outcome of {@link EaseOptions.tune}: the chosen pair and the validation NDCG of every candidate. */
export interface EaseTuningReport {
  lambda: number;
  observedWeight: number;
  k: number;
  /** Users with held-out items in the validation split. */
  users: number;
  candidates: Array<{ lambda: number; observedWeight: number; ndcg: number }>;
}

/** JSON form of {@link EaseModel}. */
export interface EaseJSON extends SerializedModel {
  type: 'ease';
  options: EaseOptions;
  weights: { kind: 'dense'; dense: DenseItemWeightsJSON } | { kind: 'sparse'; sparse: ItemNeighboursJSON };
  prior: string;
  /** Present when the hyperparameters were tuned on validation. */
  tuning?: EaseTuningReport;
}

/** The default tuning grid (see {@link EaseTuneOptions}). */
export const DEFAULT_EASE_TUNE_GRID = { lambdas: [250, 500, 1000], observedWeights: [1, 4, 8, 16] } as const;

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): item-item weights in closed form,
 * B = I - P diag(1/diag(P)) with P = (XᵀX + λI)⁻¹, zero diagonal. Score = history · B.
 * Optionally confidence-weighted ({@link EaseOptions.observedWeight}) and tuned on a validation
 * split ({@link EaseOptions.tune}); either way the result is one item-item matrix served by
 * {@link DenseItemWeights.accumulate}.
 * The inverse runs on the tfjs backend (blocked Gauss-Jordan); B is kept dense over the items with
 * enough support (or pruned, see {@link EaseOptions.neighbours}).
 */
export class EaseModel implements Recommender {
  readonly name = 'ease';
  /** Set by `fit` when {@link EaseOptions.tune} is on (and there was something to validate on). */
  tuning?: EaseTuningReport;
  private table: DenseItemWeights | ItemNeighbours = new ItemNeighbours(0, new Int32Array(1), new Int32Array(0), new Float32Array(0));
  private prior: Float32Array = new Float32Array(0);
  private itemIds: string[] = [];

  constructor(private readonly options: EaseOptions = {}) {
    const p = options.precision;
    if (p !== undefined && p !== 'int8' && p !== 'float32') throw new RangeError(`precision must be "int8" or "float32", got ${JSON.stringify(p)}`);
    if (options.timeKernel) {
      checkTimeKernel(options.timeKernel);
      if (options.tune || (options.observedWeight ?? 1) !== 1) throw new RangeError('timeKernel does not combine with observedWeight > 1 or tune');
    }
  }

  /** The hyperparameters the weights were fitted with (the tuned ones after a tuned `fit`). */
  get fitted(): { lambda: number; observedWeight: number } {
    return { lambda: this.tuning?.lambda ?? this.options.lambda ?? 200, observedWeight: this.tuning?.observedWeight ?? this.options.observedWeight ?? 1 };
  }

  async fit(matrix: InteractionMatrix, opts: FitOptions = {}): Promise<void> {
    const { tf } = await initTensorflow();
    this.tuning = this.options.tune ? await this.tune(tf, matrix, opts) : undefined;
    const { lambda, observedWeight } = this.fitted;
    const counts = matrix.itemUserCounts();
    const { items, columnOf } = this.learnedItems(counts);
    const n = items.length;
    opts.onProgress?.({ model: this.name, message: `inverting ${n} x ${n}` });

    let B: Float32Array = new Float32Array(0);
    if (n > 0) {
      const gram = gramMatrix(tf, matrix, columnOf, n, lambda, this.options.timeKernel || undefined);
      const P = await inverseData(tf, gram, this.options.blockSize);
      gram.dispose();
      if (observedWeight === 1) {
        // B[r, c] = -P[r, c] / P[c, c], zero diagonal (sub-indices; `items` maps them back), in place.
        const diag = Float32Array.from({ length: n }, (_, c) => P[c * n + c]);
        for (let r = 0; r < n; r++) {
          for (let c = 0; c < n; c++) P[r * n + c] = r === c ? 0 : -P[r * n + c] / diag[c];
        }
        B = P;
      } else {
        opts.onProgress?.({ model: this.name, message: `observed entries weighted ${observedWeight}` });
        B = new EaseWeightSolver(P, n, lambda, matrix, columnOf).weights(observedWeight);
      }
    }
    this.table = this.makeTable(matrix.numItems, items, columnOf, B);
    this.prior = popularityPrior(counts);
    this.itemIds = [...matrix.itemIds];
  }

  /** Grid search of (lambda, observedWeight) on a validation split of `matrix`; undefined when there is nothing to validate. */
  private async tune(tf: Tf, matrix: InteractionMatrix, opts: FitOptions): Promise<EaseTuningReport | undefined> {
    const t = this.options.tune === true || !this.options.tune ? {} : this.options.tune;
    const lambdas = t.lambdas ?? DEFAULT_EASE_TUNE_GRID.lambdas;
    const weights = t.observedWeights ?? DEFAULT_EASE_TUNE_GRID.observedWeights;
    const k = t.k ?? 10;
    if (lambdas.length === 0 || weights.length === 0) throw new RangeError('tune needs at least one lambda and one observedWeight');
    const split = validationSplit(matrix, { fraction: t.fraction, seed: t.seed });
    const counts = split.train.itemUserCounts();
    const { items, columnOf } = this.learnedItems(counts);
    const n = items.length;
    if (n === 0 || !split.heldOut.some((h) => h.length > 0)) return undefined;
    const prior = popularityPrior(counts);
    const gram = gramMatrix(tf, split.train, columnOf, n, 0);
    const candidates: EaseTuningReport['candidates'] = [];
    let users = 0;
    try {
      for (const lambda of lambdas) {
        opts.onProgress?.({ model: this.name, message: `tuning: inverting ${n} x ${n} for lambda ${lambda}` });
        const regularised = tf.tidy(() => tf.add(gram, tf.mul(tf.eye(n), lambda)) as Tensor2D);
        const P = await inverseData(tf, regularised, this.options.blockSize);
        regularised.dispose();
        const solver = new EaseWeightSolver(P, n, lambda, split.train, columnOf);
        for (const observedWeight of weights) {
          const table = this.makeTable(split.train.numItems, items, columnOf, solver.weights(observedWeight));
          const r = validationNdcg(split, (h) => table.accumulate(h, prior.slice()), k);
          users = r.users;
          candidates.push({ lambda, observedWeight, ndcg: r.ndcg });
          opts.onProgress?.({ model: this.name, message: `tuning: lambda ${lambda} observedWeight ${observedWeight}: validation NDCG@${k} ${r.ndcg.toFixed(4)}` });
        }
      }
    } finally {
      gram.dispose();
    }
    const best = candidates.reduce((a, b) => (b.ndcg > a.ndcg ? b : a));
    opts.onProgress?.({ model: this.name, message: `tuning: chose lambda ${best.lambda} observedWeight ${best.observedWeight} (${users} validation users)` });
    return { lambda: best.lambda, observedWeight: best.observedWeight, k, users, candidates };
  }

  /**
   * The items of the item-item matrix for these per-item user counts: at least `minItemUsers` users,
   * the `maxItems` most popular, ascending (what `fit` learns neighbours for).
   */
  learnedItems(counts: Int32Array): { items: Int32Array; columnOf: Int32Array } {
    const candidates = [...counts.keys()].filter((i) => counts[i] >= (this.options.minItemUsers ?? 5));
    candidates.sort((a, b) => counts[b] - counts[a] || a - b);
    const items = Int32Array.from(candidates.slice(0, this.options.maxItems ?? 6000)).sort();
    const columnOf = new Int32Array(counts.length).fill(-1);
    items.forEach((item, c) => (columnOf[item] = c));
    return { items, columnOf };
  }

  private makeTable(numItems: number, items: Int32Array, columnOf: Int32Array, B: Float32Array): DenseItemWeights | ItemNeighbours {
    const n = items.length;
    const keep = this.options.neighbours;
    return keep === undefined
      ? new DenseItemWeights(numItems, items, B, this.options.precision ?? 'int8')
      : ItemNeighbours.fromDenseRows(numItems, keep, (source, row) => {
          const r = columnOf[source];
          if (r < 0) return false;
          for (let c = 0; c < n; c++) row[items[c]] = B[r * n + c];
          return true;
        });
  }

  scoreUser(history: readonly HistoryEntry[]): Float32Array {
    return this.table.accumulate(history, this.prior.slice());
  }

  /**
   * Serving shortcut: the `k` best items for `history` with their scores, best first, exactly as
   * `topK(scoreUser(history), k)` restricted to scores above `threshold` would give them, but
   * scanning only the learned items (the others score the popularity prior alone, at most 1e-6,
   * so they never pass a threshold of 1e-6 or more). Falls back to the full scan for sparse tables.
   */
  rank(history: readonly HistoryEntry[], k: number, threshold: number): Array<{ item: number; score: number }> {
    if (!(this.table instanceof DenseItemWeights) || threshold < 1e-6) {
      const scores = this.scoreUser(history);
      return topK(scores, k).filter((i) => scores[i] > threshold).map((item) => ({ item, score: scores[item] }));
    }
    const items = this.table.items;
    const acc = this.table.accumulateColumns(history);
    const scores = new Float32Array(acc.length);
    for (let c = 0; c < acc.length; c++) scores[c] = acc[c] + this.prior[items[c]]; // as scoreUser, in float32
    const out: Array<{ item: number; score: number }> = [];
    // `items` is ascending, so topK's tie-break on the lower position is the lower item, as in scoreUser's order.
    for (const c of topK(scores, k)) if (scores[c] > threshold) out.push({ item: items[c], score: scores[c] });
    return out;
  }

  /** {@link explain} for many items at once (one pass over the history for dense weights). */
  explainMany(history: readonly HistoryEntry[], items: readonly number[]): Array<number | undefined> {
    if (this.table instanceof DenseItemWeights) return this.table.explainMany(history, items);
    return items.map((i) => this.table.explain(history, i)?.becauseItem);
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
      ...(this.tuning ? { tuning: this.tuning } : {}),
    };
  }

  static fromJSON(json: EaseJSON): EaseModel {
    const m = new EaseModel(json.options);
    m.table = json.weights.kind === 'dense' ? DenseItemWeights.fromJSON(json.weights.dense) : ItemNeighbours.fromJSON(json.weights.sparse);
    m.prior = decodeFloat32(json.prior);
    m.itemIds = [...json.itemIds];
    if (json.tuning) m.tuning = json.tuning;
    return m;
  }
}

/**
 * XᵀX + λI over the learned columns, accumulated on the tfjs backend a block of users at a time,
 * plus the time-kernel term ({@link timeKernelGram}) when `kernel` is given.
 */
function gramMatrix(tf: Tf, matrix: InteractionMatrix, columnOf: Int32Array, n: number, lambda: number, kernel?: TimeKernelOptions): Tensor2D {
  let gram = tf.mul(tf.eye(n), lambda) as Tensor2D;
  const batch = Math.max(1, Math.floor(16_000_000 / n));
  for (let u0 = 0; u0 < matrix.numUsers; u0 += batch) {
    const users = Array.from({ length: Math.min(batch, matrix.numUsers - u0) }, (_, k) => u0 + k);
    const next = tf.tidy(() => {
      const x = tf.tensor2d(matrix.denseRows(users, columnOf, n), [users.length, n]);
      return tf.add(gram, tf.matMul(tf.transpose(x), x)) as Tensor2D; // explicit transpose: ~7x faster on wasm
    });
    gram.dispose();
    gram = next;
  }
  if (kernel && kernel.weight > 0) {
    const extra = tf.tensor2d(timeKernelGram(matrix, columnOf, n, kernel), [n, n]);
    const next = tf.add(gram, extra) as Tensor2D;
    tf.dispose([gram, extra]);
    gram = next;
  }
  return gram;
}

/** The inverse of an SPD tensor, as row-major data (the tensor given is not disposed). */
async function inverseData(tf: Tf, a: Tensor2D, blockSize = 256): Promise<Float32Array> {
  const inverse = invertSpd(tf, a, blockSize);
  const data = (await inverse.data()) as Float32Array;
  inverse.dispose();
  return data;
}

import { decodeArray, decodeFloat32, decodeInt32, encodeArray, encodeFloat32, encodeInt32 } from './binary-codec';
import { AxpyKernel } from './axpy-kernel';
import type { explainByContribution } from './item-neighbours';
import type { Explanation, HistoryEntry } from './model.types';

/**
 * How dense weights are held and served. `float32`: exactly as fitted. `int8`: each row scaled so
 * its largest magnitude is 127 and rounded (one float scale per row), a quarter of the memory and
 * of the bytes scoring reads; on MovieLens NDCG@10 moves by at most 0.0005 (see
 * docs/recommendations.md, "Serving performance").
 */
export type WeightPrecision = 'float32' | 'int8';

/** Serialised {@link DenseItemWeights}: `weights` (float32) or `int8` + `scales` (int8). */
export interface DenseItemWeightsJSON {
  numItems: number;
  items: string;
  /** float32, `items` x `items`, row-major. */
  weights?: string;
  /** int8, `items` x `items`, row-major; weight = int8 x the row's scale. */
  int8?: string;
  scales?: string;
}

/** int8 rows and their scales, as {@link DenseItemWeights} holds them. */
export interface QuantizedWeights {
  int8: Int8Array;
  scales: Float32Array;
}

/** Rounds each row of an n x n float matrix to int8 with its own scale (largest magnitude -> 127). */
export function quantizeRows(weights: Float32Array, n: number): QuantizedWeights {
  const int8 = new Int8Array(n * n);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let c = r * n; c < r * n + n; c++) max = Math.max(max, Math.abs(weights[c]));
    if (max === 0 || !Number.isFinite(max)) continue; // an all-zero row (or a broken one) scores nothing
    const scale = max / 127;
    scales[r] = scale;
    for (let c = r * n; c < r * n + n; c++) int8[c] = Math.round(weights[c] / scale);
  }
  return { int8, scales };
}

/**
 * Dense item-to-item weights over a subset of the items (row = source, column = target, both
 * positions in `items`). Exact EASE needs its negative weights too, which pruning would drop.
 */
export class DenseItemWeights {
  private readonly positionOf: Int32Array;
  /** WebAssembly SIMD scoring, when the runtime has it (then the weights live in its memory). */
  private readonly kernel: AxpyKernel | null;
  /** The weights, row-major with `stride` elements per row (padded in the kernel). */
  private readonly table: Float32Array | Int8Array;
  /** int8: each row's scale (weight = table x scale); float32: null. */
  private readonly scales: Float32Array | null;
  private readonly stride: number;
  /** Reused accumulator of the JavaScript path (scoring is synchronous, so one per table is enough). */
  private acc = new Float64Array(0);

  /**
   * @param weights `items.length` x `items.length`, row-major: float32 weights (rounded to int8
   *   rows when `precision` is `int8`), or int8 rows with their scales.
   */
  constructor(
    readonly numItems: number,
    /** Item index of each row/column, ascending. */
    readonly items: Int32Array,
    weights: Float32Array | QuantizedWeights,
    precision: WeightPrecision = weights instanceof Float32Array ? 'float32' : 'int8',
  ) {
    if (precision !== 'float32' && precision !== 'int8') throw new RangeError(`precision must be "float32" or "int8", got ${JSON.stringify(precision)}`);
    const n = items.length;
    const given = weights instanceof Float32Array ? weights : weights.int8;
    if (given.length !== n * n) throw new RangeError('weights must be items x items');
    this.positionOf = new Int32Array(numItems).fill(-1);
    items.forEach((item, c) => (this.positionOf[item] = c));
    let rows: Float32Array | Int8Array;
    if (precision === 'int8') {
      const q = weights instanceof Float32Array ? quantizeRows(weights, n) : weights;
      if (q.scales.length !== n) throw new RangeError('scales must have one entry per item');
      rows = q.int8;
      this.scales = q.scales;
    } else {
      if (!(weights instanceof Float32Array)) throw new RangeError('float32 precision needs float32 weights');
      rows = weights;
      this.scales = null;
    }
    this.kernel = n > 0 ? AxpyKernel.create(n, n, precision) : null;
    if (this.kernel) {
      const { matrix, stride } = this.kernel;
      for (let r = 0; r < n; r++) matrix.set(rows.subarray(r * n, r * n + n), r * stride);
      this.table = matrix;
      this.stride = stride;
    } else {
      this.table = rows;
      this.stride = n;
    }
  }

  /** How the weights are held. */
  get precision(): WeightPrecision {
    return this.scales ? 'int8' : 'float32';
  }

  /** The weights (as served: int8 rows times their scale), `items.length` x `items.length`, row-major (a copy unless float32 and unpadded). */
  get weights(): Float32Array {
    const n = this.items.length;
    if (this.stride === n && this.table instanceof Float32Array) return this.table;
    const out = new Float32Array(n * n);
    for (let r = 0; r < n; r++) {
      const s = this.scales ? this.scales[r] : 1;
      for (let c = 0; c < n; c++) out[r * n + c] = this.table[r * this.stride + c] * s;
    }
    return out;
  }

  /** True when scoring runs on WebAssembly SIMD. */
  get simd(): boolean {
    return this.kernel !== null;
  }

  private pos(item: number): number {
    return item >= 0 && item < this.numItems ? this.positionOf[item] : -1;
  }

  /**
   * Adds `weight x row(item)` of every history entry to `out` (length numItems). Scoring is bound
   * by reading weight rows: with WebAssembly SIMD four f32 lanes at a time, else in JavaScript four
   * rows per pass over the columns (reading the accumulator a quarter as often).
   */
  accumulate(history: readonly HistoryEntry[], out: Float32Array): Float32Array {
    const acc = this.accumulateColumns(history);
    const items = this.items;
    for (let c = 0; c < items.length; c++) out[items[c]] += acc[c];
    return out;
  }

  /** The JavaScript path: sum of `ws[k] x row(rows[k])` in float64 (a reused array). */
  private accumulateJs(rows: readonly number[], ws: readonly number[]): Float64Array {
    const n = this.items.length;
    const W = this.table;
    if (this.acc.length !== n) this.acc = new Float64Array(n);
    const acc = this.acc.fill(0);
    let k = 0;
    for (; k + 3 < rows.length; k += 4) {
      const a = rows[k] * n, b = rows[k + 1] * n, d = rows[k + 2] * n, e = rows[k + 3] * n;
      const wa = ws[k], wb = ws[k + 1], wd = ws[k + 2], we = ws[k + 3];
      for (let c = 0; c < n; c++) acc[c] += wa * W[a + c] + wb * W[b + c] + wd * W[d + c] + we * W[e + c];
    }
    for (; k < rows.length; k++) {
      const a = rows[k] * n, wa = ws[k];
      for (let c = 0; c < n; c++) acc[c] += wa * W[a + c];
    }
    return acc;
  }

  /**
   * The learned part of a score, for serving: `out[c]` = the history's weight sum into column `c`
   * (item `items[c]`), `out.length` = items.length. The returned array is reused by the next call.
   */
  accumulateColumns(history: readonly HistoryEntry[]): Float32Array | Float64Array {
    const rows: number[] = [];
    const ws: number[] = [];
    const scales = this.scales;
    for (const { item, weight } of history) {
      const r = this.pos(item);
      if (r >= 0 && weight !== 0) rows.push(r), ws.push(scales ? weight * scales[r] : weight);
    }
    return this.kernel ? this.kernel.accumulate(rows, ws).subarray(0, this.items.length) : this.accumulateJs(rows, ws);
  }

  /**
   * {@link explain} for many items in one pass over the history (rows read once each): for each
   * item, the history item contributing most, or undefined when none contributes positively.
   */
  explainMany(history: readonly HistoryEntry[], items: readonly number[]): Array<number | undefined> {
    const cols = items.map((i) => this.pos(i));
    const best = new Array<number | undefined>(items.length).fill(undefined);
    const bestContribution = new Float64Array(items.length);
    const T = this.table;
    for (const h of history) {
      const r = this.pos(h.item);
      if (r < 0) continue;
      const base = r * this.stride;
      const w = this.scales ? h.weight * this.scales[r] : h.weight;
      for (let j = 0; j < cols.length; j++) {
        const c = cols[j];
        if (c < 0 || h.item === items[j]) continue;
        const v = w * T[base + c];
        if (v > bestContribution[j]) {
          bestContribution[j] = v;
          best[j] = h.item;
        }
      }
    }
    return best;
  }

  /** Weight from `source` to `target` (0 outside the subset). */
  weight(source: number, target: number): number {
    const r = this.pos(source);
    const c = this.pos(target);
    return r < 0 || c < 0 ? 0 : Math.fround(this.table[r * this.stride + c] * (this.scales ? this.scales[r] : 1)); // as `weights` holds it
  }

  /** "Because you interacted with X": the history item contributing most to `item` (as {@link explainByContribution}). */
  explain(history: readonly HistoryEntry[], item: number): Explanation | undefined {
    const best = this.explainMany(history, [item])[0];
    return best === undefined ? undefined : { reason: 'because you interacted with', becauseItem: best };
  }

  toJSON(): DenseItemWeightsJSON {
    const head = { numItems: this.numItems, items: encodeInt32(this.items) };
    if (!this.scales) return { ...head, weights: encodeFloat32(this.weights) };
    const n = this.items.length;
    const int8 = new Int8Array(n * n);
    for (let r = 0; r < n; r++) int8.set(this.table.subarray(r * this.stride, r * this.stride + n), r * n);
    return { ...head, int8: encodeArray(int8), scales: encodeFloat32(this.scales) };
  }

  static fromJSON(json: DenseItemWeightsJSON): DenseItemWeights {
    const items = decodeInt32(json.items);
    if (json.int8 !== undefined && json.scales !== undefined) {
      return new DenseItemWeights(json.numItems, items, { int8: decodeArray(json.int8, Int8Array), scales: decodeFloat32(json.scales) });
    }
    if (json.weights === undefined) throw new RangeError('dense weights need `weights` (float32) or `int8` and `scales`');
    return new DenseItemWeights(json.numItems, items, decodeFloat32(json.weights));
  }
}

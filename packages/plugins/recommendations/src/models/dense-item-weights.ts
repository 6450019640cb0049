import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './binary-codec';
import { AxpyKernel } from './axpy-kernel';
import type { explainByContribution } from './item-neighbours';
import type { Explanation, HistoryEntry } from './model.types';

/** Serialised {@link DenseItemWeights}. */
export interface DenseItemWeightsJSON {
  numItems: number;
  items: string;
  weights: string;
}

/**
 * Dense item-to-item weights over a subset of the items (row = source, column = target, both
 * positions in `items`). Exact EASE needs its negative weights too, which pruning would drop.
 */
export class DenseItemWeights {
  private readonly positionOf: Int32Array;
  /** WebAssembly SIMD scoring, when the runtime has it (then the weights live in its memory). */
  private readonly kernel: AxpyKernel | null;
  /** The weights, row-major with `stride` floats per row (padded to 4 in the kernel). */
  private readonly table: Float32Array;
  private readonly stride: number;
  /** Reused accumulator of the JavaScript path (scoring is synchronous, so one per table is enough). */
  private acc = new Float64Array(0);

  constructor(
    readonly numItems: number,
    /** Item index of each row/column, ascending. */
    readonly items: Int32Array,
    /** `items.length` x `items.length`, row-major. */
    weights: Float32Array,
  ) {
    const n = items.length;
    if (weights.length !== n * n) throw new RangeError('weights must be items x items');
    this.positionOf = new Int32Array(numItems).fill(-1);
    items.forEach((item, c) => (this.positionOf[item] = c));
    this.kernel = n > 0 ? AxpyKernel.create(n, n) : null;
    if (this.kernel) {
      const { matrix, stride } = this.kernel;
      for (let r = 0; r < n; r++) matrix.set(weights.subarray(r * n, r * n + n), r * stride);
      this.table = matrix;
      this.stride = stride;
    } else {
      this.table = weights;
      this.stride = n;
    }
  }

  /** The weights, `items.length` x `items.length`, row-major (a copy when the kernel pads rows). */
  get weights(): Float32Array {
    const n = this.items.length;
    if (this.stride === n) return this.table;
    const out = new Float32Array(n * n);
    for (let r = 0; r < n; r++) out.set(this.table.subarray(r * this.stride, r * this.stride + n), r * n);
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
    for (const { item, weight } of history) {
      const r = this.pos(item);
      if (r >= 0 && weight !== 0) rows.push(r), ws.push(weight);
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
      for (let j = 0; j < cols.length; j++) {
        const c = cols[j];
        if (c < 0 || h.item === items[j]) continue;
        const v = h.weight * T[base + c];
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
    return r < 0 || c < 0 ? 0 : this.table[r * this.stride + c];
  }

  /** "Because you interacted with X": the history item contributing most to `item` (as {@link explainByContribution}). */
  explain(history: readonly HistoryEntry[], item: number): Explanation | undefined {
    const best = this.explainMany(history, [item])[0];
    return best === undefined ? undefined : { reason: 'because you interacted with', becauseItem: best };
  }

  toJSON(): DenseItemWeightsJSON {
    return { numItems: this.numItems, items: encodeInt32(this.items), weights: encodeFloat32(this.weights) };
  }

  static fromJSON(json: DenseItemWeightsJSON): DenseItemWeights {
    return new DenseItemWeights(json.numItems, decodeInt32(json.items), decodeFloat32(json.weights));
  }
}

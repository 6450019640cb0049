import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './binary-codec';
import { explainByContribution } from './item-neighbours';
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

  constructor(
    readonly numItems: number,
    /** Item index of each row/column, ascending. */
    readonly items: Int32Array,
    /** `items.length` x `items.length`, row-major. */
    readonly weights: Float32Array,
  ) {
    if (weights.length !== items.length * items.length) throw new RangeError('weights must be items x items');
    this.positionOf = new Int32Array(numItems).fill(-1);
    items.forEach((item, c) => (this.positionOf[item] = c));
  }

  private pos(item: number): number {
    return item >= 0 && item < this.numItems ? this.positionOf[item] : -1;
  }

  /** Adds `weight x row(item)` of every history entry to `out` (length numItems). */
  accumulate(history: readonly HistoryEntry[], out: Float32Array): Float32Array {
    const n = this.items.length;
    const acc = new Float64Array(n);
    for (const { item, weight } of history) {
      const r = this.pos(item);
      if (r < 0) continue;
      const base = r * n;
      for (let c = 0; c < n; c++) acc[c] += weight * this.weights[base + c];
    }
    for (let c = 0; c < n; c++) out[this.items[c]] += acc[c];
    return out;
  }

  /** Weight from `source` to `target` (0 outside the subset). */
  weight(source: number, target: number): number {
    const r = this.pos(source);
    const c = this.pos(target);
    return r < 0 || c < 0 ? 0 : this.weights[r * this.items.length + c];
  }

  /** "Because you interacted with X": the history item contributing most to `item`. */
  explain(history: readonly HistoryEntry[], item: number): Explanation | undefined {
    return explainByContribution(history, item, (s, t) => this.weight(s, t));
  }

  toJSON(): DenseItemWeightsJSON {
    return { numItems: this.numItems, items: encodeInt32(this.items), weights: encodeFloat32(this.weights) };
  }

  static fromJSON(json: DenseItemWeightsJSON): DenseItemWeights {
    return new DenseItemWeights(json.numItems, decodeInt32(json.items), decodeFloat32(json.weights));
  }
}

import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './binary-codec';
import type { Explanation, HistoryEntry } from './model.types';
import { topK } from './ranking';

/** Serialised {@link ItemNeighbours}. */
export interface ItemNeighboursJSON {
  numItems: number;
  indptr: string;
  targets: string;
  weights: string;
}

/**
 * Sparse item-to-item weights, stored by source item: row `i` lists the items `i` votes for.
 * Scoring sums the rows of the history items, so it costs O(history x neighbours).
 */
export class ItemNeighbours {
  constructor(
    readonly numItems: number,
    /** Row pointers, length numItems + 1. */
    readonly indptr: Int32Array,
    /** Target item of each weight, ascending within a row. */
    readonly targets: Int32Array,
    readonly weights: Float32Array,
  ) {}

  /**
   * Builds the table from per-source rows, keeping at most `keep` largest-magnitude weights per row
   * (`row(i)` fills `scratch` with the dense row of source `i` and returns false to skip it).
   */
  static fromDenseRows(
    numItems: number,
    keep: number,
    row: (source: number, scratch: Float32Array) => boolean,
  ): ItemNeighbours {
    const scratch = new Float32Array(numItems);
    const magnitude = new Float32Array(numItems);
    const rows: Array<{ t: Int32Array; w: Float32Array }> = [];
    for (let i = 0; i < numItems; i++) {
      scratch.fill(0);
      if (!row(i, scratch)) {
        rows.push({ t: new Int32Array(0), w: new Float32Array(0) });
        continue;
      }
      for (let j = 0; j < numItems; j++) magnitude[j] = Math.abs(scratch[j]);
      const best = topK(magnitude, keep, [i]).filter((j) => magnitude[j] > 0).sort((a, b) => a - b);
      rows.push({ t: Int32Array.from(best), w: Float32Array.from(best, (j) => scratch[j]) });
    }
    return ItemNeighbours.fromRows(numItems, rows);
  }

  /** Builds the table by transposing per-target neighbour lists (target j <- sources). */
  static fromTargetLists(numItems: number, lists: ReadonlyArray<{ sources: ArrayLike<number>; weights: ArrayLike<number> }>): ItemNeighbours {
    const len = new Int32Array(numItems);
    lists.forEach((l) => {
      for (let k = 0; k < l.sources.length; k++) len[l.sources[k]]++;
    });
    const indptr = new Int32Array(numItems + 1);
    for (let i = 0; i < numItems; i++) indptr[i + 1] = indptr[i] + len[i];
    const fill = indptr.slice(0, numItems);
    const targets = new Int32Array(indptr[numItems]);
    const weights = new Float32Array(indptr[numItems]);
    lists.forEach((l, j) => {
      for (let k = 0; k < l.sources.length; k++) {
        const p = fill[l.sources[k]]++;
        targets[p] = j; // targets visited in ascending j, so rows stay sorted
        weights[p] = l.weights[k];
      }
    });
    return new ItemNeighbours(numItems, indptr, targets, weights);
  }

  private static fromRows(numItems: number, rows: Array<{ t: Int32Array; w: Float32Array }>): ItemNeighbours {
    const indptr = new Int32Array(numItems + 1);
    rows.forEach((r, i) => (indptr[i + 1] = indptr[i] + r.t.length));
    const targets = new Int32Array(indptr[numItems]);
    const weights = new Float32Array(indptr[numItems]);
    rows.forEach((r, i) => {
      targets.set(r.t, indptr[i]);
      weights.set(r.w, indptr[i]);
    });
    return new ItemNeighbours(numItems, indptr, targets, weights);
  }

  /** Adds `weight x row(item)` of every history entry to `out`. */
  accumulate(history: readonly HistoryEntry[], out: Float32Array): Float32Array {
    for (const { item, weight } of history) {
      if (item < 0 || item >= this.numItems) continue;
      for (let p = this.indptr[item]; p < this.indptr[item + 1]; p++) out[this.targets[p]] += weight * this.weights[p];
    }
    return out;
  }

  /** Weight from `source` to `target` (0 when not stored). */
  weight(source: number, target: number): number {
    let lo = this.indptr[source];
    let hi = this.indptr[source + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = this.targets[mid];
      if (t === target) return this.weights[mid];
      if (t < target) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** "Because you interacted with X": the history item contributing most to `item`. */
  explain(history: readonly HistoryEntry[], item: number): Explanation | undefined {
    return explainByContribution(history, item, (source, target) => (source < this.numItems ? this.weight(source, target) : 0));
  }

  toJSON(): ItemNeighboursJSON {
    return {
      numItems: this.numItems,
      indptr: encodeInt32(this.indptr),
      targets: encodeInt32(this.targets),
      weights: encodeFloat32(this.weights),
    };
  }

  static fromJSON(json: ItemNeighboursJSON): ItemNeighbours {
    return new ItemNeighbours(json.numItems, decodeInt32(json.indptr), decodeInt32(json.targets), decodeFloat32(json.weights));
  }
}

/**
 * Shared item-to-item explanation: the history item `i` maximising `weight(i) x w(i, item)`
 * ("because you interacted with i"), or undefined when nothing contributes positively.
 */
export function explainByContribution(
  history: readonly HistoryEntry[],
  item: number,
  w: (source: number, target: number) => number,
): Explanation | undefined {
  let best = -1;
  let bestContribution = 0;
  for (const h of history) {
    if (h.item === item || h.item < 0) continue;
    const c = h.weight * w(h.item, item);
    if (c > bestContribution) {
      bestContribution = c;
      best = h.item;
    }
  }
  return best >= 0 ? { reason: 'because you interacted with', becauseItem: best } : undefined;
}

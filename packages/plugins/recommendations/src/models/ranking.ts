/**
 * Indices of the `k` highest scores, best first, skipping `exclude` (e.g. the user's history)
 * and non-finite scores. Ties go to the lower index.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: Iterable<number>): number[] {
  const skip = exclude ? new Set(exclude) : null;
  if (k <= 0) return [];
  // Min-heap of (score, index), worst on top; `worse` = lower score, or equal score and higher index.
  const hi = new Int32Array(k);
  const hs = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!(s > Number.NEGATIVE_INFINITY && s < Number.POSITIVE_INFINITY)) continue; // not finite
    if (size === k && !(s > hs[0])) continue; // an equal score has a higher index: worse
    if (skip !== null && skip.size > 0 && skip.has(i)) continue;
    if (size < k) {
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!(s < hs[p] || (s === hs[p] && i > hi[p]))) break;
        hs[c] = hs[p];
        hi[c] = hi[p];
        c = p;
      }
      hs[c] = s;
      hi[c] = i;
    } else {
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= size) break;
        const r = l + 1;
        const m = r < size && (hs[r] < hs[l] || (hs[r] === hs[l] && hi[r] > hi[l])) ? r : l;
        if (!(hs[m] < s || (hs[m] === s && hi[m] > i))) break;
        hs[c] = hs[m];
        hi[c] = hi[m];
        c = m;
      }
      hs[c] = s;
      hi[c] = i;
    }
  }
  const order = Array.from({ length: size }, (_, j) => j);
  order.sort((a, b) => hs[b] - hs[a] || hi[a] - hi[b]);
  return order.map((j) => hi[j]);
}

/** Tiny popularity tie-breaker (≤ 1e-6) so items without item-item evidence still rank sensibly. */
export function popularityPrior(counts: ArrayLike<number>): Float32Array {
  let max = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] > max) max = counts[i];
  return Float32Array.from(counts, (c) => (max > 0 ? (1e-6 * c) / max : 0));
}

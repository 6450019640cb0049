/**
 * Indices of the `k` highest scores, best first, skipping `exclude` (e.g. the user's history)
 * and non-finite scores. Ties go to the lower index.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: Iterable<number>): number[] {
  const skip = new Set(exclude ?? []);
  const heapIdx: number[] = []; // min-heap by score on (score, -index)
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heapIdx.length && worse(heapIdx[l], heapIdx[m])) m = l;
      if (r < heapIdx.length && worse(heapIdx[r], heapIdx[m])) m = r;
      if (m === i) return;
      [heapIdx[i], heapIdx[m]] = [heapIdx[m], heapIdx[i]];
      i = m;
    }
  };
  if (k <= 0) return [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!Number.isFinite(s) || skip.has(i)) continue;
    if (heapIdx.length < k) {
      heapIdx.push(i);
      for (let c = heapIdx.length - 1; c > 0; ) {
        const p = (c - 1) >> 1;
        if (!worse(heapIdx[c], heapIdx[p])) break;
        [heapIdx[c], heapIdx[p]] = [heapIdx[p], heapIdx[c]];
        c = p;
      }
    } else if (worse(heapIdx[0], i)) {
      heapIdx[0] = i;
      siftDown(0);
    }
  }
  return heapIdx.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/** Tiny popularity tie-breaker (≤ 1e-6) so items without item-item evidence still rank sensibly. */
export function popularityPrior(counts: ArrayLike<number>): Float32Array {
  let max = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] > max) max = counts[i];
  return Float32Array.from(counts, (c) => (max > 0 ? (1e-6 * c) / max : 0));
}

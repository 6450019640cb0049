/**
 * Ranking metrics with binary relevance. `ranked` is the recommendation list, best first;
 * `relevant` the held-out items. Only the first `k` entries of `ranked` count.
 */

function hits(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  let h = 0;
  for (let r = 0; r < Math.min(k, ranked.length); r++) if (relevant.has(ranked[r])) h++;
  return h;
}

/** Precision@k = hits / k. */
export function precisionAtK(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  return hits(ranked, relevant, k) / k;
}

/** Recall@k = hits / min(k, |relevant|) (the normalisation of Liang et al. 2018), 0 if nothing is relevant. */
export function recallAtK(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  const denom = Math.min(k, relevant.size);
  return denom === 0 ? 0 : hits(ranked, relevant, k) / denom;
}

/** NDCG@k = DCG@k / IDCG@k, gain 1/log2(rank + 2), ideal = min(k, |relevant|) hits on top. */
export function ndcgAtK(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  let dcg = 0;
  for (let r = 0; r < Math.min(k, ranked.length); r++) if (relevant.has(ranked[r])) dcg += 1 / Math.log2(r + 2);
  let idcg = 0;
  for (let r = 0; r < Math.min(k, relevant.size); r++) idcg += 1 / Math.log2(r + 2);
  return idcg === 0 ? 0 : dcg / idcg;
}

/** HitRate@k = 1 if any relevant item is in the top k, else 0. */
export function hitRateAtK(ranked: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  return hits(ranked, relevant, k) > 0 ? 1 : 0;
}

/** Pairwise evaluation of clusterings against ground truth. */

/** Pairwise precision / recall / F1 with the underlying counts. */
export interface PairwiseMetrics {
  /** Predicted pairs that are true pairs. */
  truePositives: number;
  /** Pairs of records placed in the same predicted cluster. */
  predictedPairs: number;
  /** Pairs of records in the same ground-truth cluster. */
  truePairs: number;
  /** truePositives / predictedPairs (1 when nothing is predicted). */
  precision: number;
  /** truePositives / truePairs (1 when there are no true pairs). */
  recall: number;
  /** Harmonic mean of precision and recall. */
  f1: number;
}

function pairsOf(n: number): number {
  return (n * (n - 1)) / 2;
}

/** Number of record pairs sharing a ground-truth cluster id. */
export function countTruePairs(clusterOf: ReadonlyMap<string, string>): number {
  const sizes = new Map<string, number>();
  for (const c of clusterOf.values()) sizes.set(c, (sizes.get(c) ?? 0) + 1);
  let total = 0;
  for (const s of sizes.values()) total += pairsOf(s);
  return total;
}

/**
 * Pairwise metrics of predicted clusters: every pair of records inside one predicted
 * cluster is a predicted pair; it is correct when both records have the same ground-truth
 * cluster id (records without one are their own cluster).
 */
export function pairwiseMetrics(predictedClusters: Iterable<readonly string[]>, clusterOf: ReadonlyMap<string, string>): PairwiseMetrics {
  let predictedPairs = 0;
  let truePositives = 0;
  for (const cluster of predictedClusters) {
    predictedPairs += pairsOf(cluster.length);
    const byTruth = new Map<string, number>();
    for (const id of cluster) {
      const t = clusterOf.get(id);
      if (t === undefined) continue;
      byTruth.set(t, (byTruth.get(t) ?? 0) + 1);
    }
    for (const n of byTruth.values()) truePositives += pairsOf(n);
  }
  const truePairs = countTruePairs(clusterOf);
  const precision = predictedPairs === 0 ? 1 : truePositives / predictedPairs;
  const recall = truePairs === 0 ? 1 : truePositives / truePairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { truePositives, predictedPairs, truePairs, precision, recall, f1 };
}

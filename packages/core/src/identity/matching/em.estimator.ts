/**
 * Expectation-maximisation of the Fellegi-Sunter m probabilities and the prior λ over the
 * candidate pairs' comparison vectors, with u fixed.
 */
import type { CandidatePairs } from './blocking';
import type { CompiledComparison, PreparedRecords } from './comparison';
import type { TrainingConfig } from './matching.types';
import { clampDistribution, clampProbability, initialM } from './probability';

/**
 * Comparison levels of every candidate pair, row-major: `levels[p * K + k]` is the level of
 * pair p for comparison k (`-1` = missing).
 */
export function computeComparisonVectors(
  prepared: PreparedRecords,
  comparisons: CompiledComparison[],
  pairs: Pick<CandidatePairs, 'a' | 'b' | 'count'>,
): Int8Array {
  const K = comparisons.length;
  const out = new Int8Array(pairs.count * K);
  for (let k = 0; k < K; k++) {
    const cmp = comparisons[k];
    const vals = prepared.values[k];
    const sw = prepared.swaps[k];
    for (let p = 0; p < pairs.count; p++) {
      const i = pairs.a[p];
      const j = pairs.b[p];
      out[p * K + k] = cmp.compare(vals[i], vals[j], sw ? sw[i] : null, sw ? sw[j] : null);
    }
  }
  return out;
}

/** Result of the EM estimation. */
export interface EmResult {
  /** m per comparison and level. */
  m: number[][];
  /** Estimated prior probability that a candidate pair is a match. */
  lambda: number;
  /** Iterations run. */
  iterations: number;
  /** Whether the tolerance was reached. */
  converged: boolean;
}

/**
 * Expectation-maximisation over the candidate pairs' comparison vectors with u fixed:
 * estimates m and λ. Vectors are first collapsed into distinct patterns, so each iteration
 * costs O(patterns × comparisons).
 */
export function estimateMByEm(
  vectors: Int8Array,
  pairCount: number,
  levelCounts: number[],
  u: number[][],
  initial: { m: number[][]; lambda: number },
  training: Required<TrainingConfig>,
  fixM = false,
): EmResult {
  const K = levelCounts.length;
  const patterns = new Map<string, { levels: Int8Array; count: number }>();
  for (let p = 0; p < pairCount; p++) {
    const row = vectors.subarray(p * K, p * K + K);
    let key = '';
    for (let k = 0; k < K; k++) key += String.fromCharCode(row[k] + 66);
    const hit = patterns.get(key);
    if (hit) hit.count++;
    else patterns.set(key, { levels: row.slice(), count: 1 });
  }
  const pats = [...patterns.values()];
  const eps = training.epsilon;
  let m = initial.m.map((row) => clampDistribution(row, eps));
  const pseudo = levelCounts.map((L) => initialM(L).map((v) => v * training.mPseudoCount));
  let lambda = clampProbability(initial.lambda, eps);
  const logU = u.map((row) => row.map(Math.log));
  let iterations = 0;
  let converged = false;
  if (pairCount === 0) return { m, lambda, iterations, converged: true };
  while (iterations < training.maxIterations) {
    iterations++;
    const logM = m.map((row) => row.map(Math.log));
    const num = levelCounts.map((L) => new Array<number>(L).fill(0));
    let matches = 0;
    const logPrior = Math.log(lambda) - Math.log(1 - lambda);
    for (const pat of pats) {
      let diff = logPrior;
      for (let k = 0; k < K; k++) {
        const l = pat.levels[k];
        if (l >= 0) diff += logM[k][l] - logU[k][l];
      }
      const post = diff > 40 ? 1 : diff < -40 ? 0 : 1 / (1 + Math.exp(-diff));
      const w = post * pat.count;
      matches += w;
      for (let k = 0; k < K; k++) {
        const l = pat.levels[k];
        if (l >= 0) num[k][l] += w;
      }
    }
    const nextLambda = clampProbability(matches / pairCount, eps);
    const nextM = fixM
      ? m
      : num.map((row, k) => {
          const s = row.reduce((a, b) => a + b, 0);
          if (s <= 0) return m[k];
          const smoothed = row.map((v, l) => v + pseudo[k][l]);
          const total = s + training.mPseudoCount;
          return clampDistribution(smoothed.map((v) => v / total), eps);
        });
    let delta = Math.abs(nextLambda - lambda);
    for (let k = 0; k < K; k++) for (let l = 0; l < nextM[k].length; l++) delta = Math.max(delta, Math.abs(nextM[k][l] - m[k][l]));
    m = nextM;
    lambda = nextLambda;
    if (delta < training.tolerance) {
      converged = true;
      break;
    }
  }
  return { m, lambda, iterations, converged };
}

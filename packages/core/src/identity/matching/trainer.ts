/**
 * Model training: normalise, block, compute comparison vectors, estimate u from random
 * pairs and m/λ by EM, and package the result as a JSON-serialisable `MatchModel`.
 */
import { generateCandidatePairs, type CandidatePairs } from './blocking';
import {
  compareRecords,
  compileComparison,
  NULL_LEVEL,
  prepareRecords,
  type CompiledComparison,
  type PreparedRecords,
} from './comparison';
import { computeComparisonVectors, estimateMByEm } from './em.estimator';
import type { LabelledPair, MatchModel, MatchRecord, MatchingConfig, TrainingConfig } from './matching.types';
import { initialM } from './probability';
import { estimateU } from './u.estimator';

/** Training defaults (overridable through `MatchingConfig.training`). */
export const DEFAULT_TRAINING: Required<TrainingConfig> = {
  uSampleSize: 100_000,
  seed: 42,
  maxIterations: 100,
  tolerance: 1e-6,
  epsilon: 1e-6,
  initialLambda: 0.05,
  mPseudoCount: 1,
};

/** Options of `trainModel` beyond the configuration. */
export interface TrainOptions {
  /** Labelled pairs whose comparison levels initialise m (matches only). */
  labels?: LabelledPair[];
  /** When true, m is fixed to the labelled estimate and only λ is estimated by EM. */
  fixMFromLabels?: boolean;
}

/** Merges training options with their defaults. */
export function resolveTraining(config: MatchingConfig): Required<TrainingConfig> {
  return { ...DEFAULT_TRAINING, ...(config.training ?? {}) };
}

/** Compiles all comparisons of a configuration. */
export function compileComparisons(config: MatchingConfig): CompiledComparison[] {
  const names = new Set<string>();
  return config.comparisons.map((c) => {
    if (names.has(c.name)) throw new Error(`duplicate comparison name "${c.name}"`);
    names.add(c.name);
    return compileComparison(c);
  });
}

function mFromLabels(
  labels: LabelledPair[],
  prepared: PreparedRecords,
  comparisons: CompiledComparison[],
): { m: number[][]; used: number } {
  const index = new Map<string, number>();
  prepared.records.forEach((r, i) => index.set(r.id, i));
  const counts = comparisons.map((c) => new Array<number>(c.labels.length).fill(1));
  let used = 0;
  for (const label of labels) {
    if (!label.match) continue;
    const i = index.get(label.idA);
    const j = index.get(label.idB);
    if (i === undefined || j === undefined || i === j) continue;
    used++;
    for (let k = 0; k < comparisons.length; k++) {
      const l = compareRecords(prepared, comparisons, k, i, j);
      if (l !== NULL_LEVEL) counts[k][l]++;
    }
  }
  return {
    m: counts.map((row) => {
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / s);
    }),
    used,
  };
}

/** Everything computed while training, reusable for batch scoring. */
export interface TrainingRun {
  /** The trained model. */
  model: MatchModel;
  /** Compiled comparisons. */
  comparisons: CompiledComparison[];
  /** Prepared (normalised) records. */
  prepared: PreparedRecords;
  /** Candidate pairs from blocking. */
  candidates: CandidatePairs;
  /** Comparison vectors of the candidate pairs. */
  vectors: Int8Array;
}

/**
 * Full unsupervised training: normalise, block, compute comparison vectors, estimate u
 * from random pairs and m/λ by EM. Optional labelled matches initialise (or fix) m.
 */
export function trainModelDetailed(records: MatchRecord[], config: MatchingConfig, options: TrainOptions = {}): TrainingRun {
  const training = resolveTraining(config);
  const comparisons = compileComparisons(config);
  const prepared = prepareRecords(records, comparisons);
  const candidates = generateCandidatePairs(records, config);
  const vectors = computeComparisonVectors(prepared, comparisons, candidates);
  const u = estimateU(prepared, comparisons, training);
  const levelCounts = comparisons.map((c) => c.labels.length);
  const labelled = options.labels && options.labels.length > 0 ? mFromLabels(options.labels, prepared, comparisons) : null;
  const useLabels = labelled !== null && labelled.used > 0;
  const initM = useLabels ? labelled.m : levelCounts.map(initialM);
  const em = estimateMByEm(
    vectors,
    candidates.count,
    levelCounts,
    u,
    { m: initM, lambda: training.initialLambda },
    training,
    useLabels && options.fixMFromLabels === true,
  );
  const model: MatchModel = {
    version: 1,
    config,
    lambda: em.lambda,
    comparisons: comparisons.map((c, k) => ({
      name: c.name,
      levels: c.labels.map((label, l) => ({ label, m: em.m[k][l], u: u[k][l] })),
    })),
    stats: {
      records: records.length,
      candidatePairs: candidates.count,
      emIterations: em.iterations,
      converged: em.converged,
      labelledPairs: useLabels ? labelled.used : 0,
    },
  };
  return { model, comparisons, prepared, candidates, vectors };
}

/** Trains a JSON-serialisable `MatchModel` on a set of records (see `trainModelDetailed`). */
export function trainModel(records: MatchRecord[], config: MatchingConfig, options: TrainOptions = {}): MatchModel {
  return trainModelDetailed(records, config, options).model;
}

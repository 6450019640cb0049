/**
 * Scoring and decisions: match weights, probabilities, explanations, thresholds and the
 * batch pipeline (block → train → score → decide → cluster).
 */
import { clusterAutoMerges } from './clustering';
import {
  NULL_LEVEL,
  NULL_LEVEL_LABEL,
  prepareRecords,
  type CompiledComparison,
  type PreparedRecords,
} from './comparison';
import { computeComparisonVectors } from './em.estimator';
import { compileComparisons, trainModelDetailed, type TrainOptions } from './trainer';
import { generateCandidatePairs, type BlockingRuleStats } from './blocking';
import type {
  ComparisonExplanation,
  MatchDecision,
  MatchModel,
  MatchRecord,
  MatchThresholds,
  MatchingConfig,
  ScoredPair,
} from './matching.types';

/** A model ready for scoring: compiled comparisons and log2 weights. */
export interface CompiledModel {
  /** The model. */
  model: MatchModel;
  /** Compiled comparisons, in model order. */
  comparisons: CompiledComparison[];
  /** log2(λ / (1 - λ)). */
  priorWeight: number;
  /** `levelWeights[k][l]` = log2(m / u) of level l of comparison k. */
  levelWeights: number[][];
}

/** Compiles a model for scoring; throws when the model does not fit its embedded configuration. */
export function compileModel(model: MatchModel): CompiledModel {
  const comparisons = compileComparisons(model.config);
  if (comparisons.length !== model.comparisons.length) {
    throw new Error('model parameters do not match its configuration (comparison count)');
  }
  const levelWeights = comparisons.map((c, k) => {
    const params = model.comparisons[k];
    if (params.name !== c.name || params.levels.length !== c.labels.length) {
      throw new Error(`model parameters do not match its configuration (comparison "${c.name}")`);
    }
    return params.levels.map((l) => Math.log2(l.m) - Math.log2(l.u));
  });
  return {
    model,
    comparisons,
    priorWeight: Math.log2(model.lambda) - Math.log2(1 - model.lambda),
    levelWeights,
  };
}

/** Match probability of a match weight: 2^w / (1 + 2^w), computed stably. */
export function matchProbability(weight: number): number {
  if (weight >= 0) return 1 / (1 + Math.pow(2, -weight));
  const p = Math.pow(2, weight);
  return p / (1 + p);
}

/** Decision for a probability: `merge` at or above autoMerge, `review` at or above review, else `distinct`. */
export function decide(probability: number, thresholds: MatchThresholds): MatchDecision {
  if (probability >= thresholds.autoMerge) return 'merge';
  if (probability >= thresholds.review) return 'review';
  return 'distinct';
}

/** Match weight of one comparison vector (levels per comparison, -1 = missing). */
export function weightOfLevels(compiled: CompiledModel, levels: ArrayLike<number>): number {
  let w = compiled.priorWeight;
  for (let k = 0; k < compiled.levelWeights.length; k++) {
    const l = levels[k];
    if (l >= 0) w += compiled.levelWeights[k][l];
  }
  return w;
}

/** Builds a scored pair, with explanation, from a comparison vector and the compared values. */
export function buildScoredPair(
  compiled: CompiledModel,
  idA: string,
  idB: string,
  levels: ArrayLike<number>,
  valuesA: Array<string | null>,
  valuesB: Array<string | null>,
): ScoredPair {
  const explanation: ComparisonExplanation[] = compiled.comparisons.map((c, k) => {
    const l = levels[k];
    return {
      comparison: c.name,
      label: l === NULL_LEVEL ? NULL_LEVEL_LABEL : c.labels[l],
      level: l,
      valueA: valuesA[k],
      valueB: valuesB[k],
      weight: l === NULL_LEVEL ? 0 : compiled.levelWeights[k][l],
    };
  });
  const weight = weightOfLevels(compiled, levels);
  const probability = matchProbability(weight);
  let decision = decide(probability, compiled.model.config.thresholds);
  if (decision === 'merge' && vetoed(compiled, levels)) decision = 'review';
  return { idA, idB, weight, probability, decision, explanation };
}

/**
 * True when a veto of the config holds: every comparison it names has a value on both sides,
 * and together they count against a match (their weights sum below zero).
 */
export function vetoed(compiled: CompiledModel, levels: ArrayLike<number>): boolean {
  const vetoes = compiled.model.config.autoMergeVetoes ?? [];
  return vetoes.some((names) => {
    let sum = 0;
    for (const name of names) {
      const k = compiled.comparisons.findIndex((c) => c.name === name);
      if (k < 0 || levels[k] < 0) return false;
      sum += compiled.levelWeights[k][levels[k]];
    }
    return names.length > 0 && sum < 0;
  });
}

/** Comparison vector of two records of a prepared set. */
export function levelsOfPreparedPair(compiled: CompiledModel, prepared: PreparedRecords, i: number, j: number): Int8Array {
  const K = compiled.comparisons.length;
  const out = new Int8Array(K);
  for (let k = 0; k < K; k++) {
    const vals = prepared.values[k];
    const sw = prepared.swaps[k];
    out[k] = compiled.comparisons[k].compare(vals[i], vals[j], sw ? sw[i] : null, sw ? sw[j] : null);
  }
  return out;
}

function column(prepared: PreparedRecords, i: number): Array<string | null> {
  return prepared.values.map((col) => col[i]);
}

/** Scores one pair of records with a model (any two records, blocked or not). */
export function scorePair(model: MatchModel | CompiledModel, a: MatchRecord, b: MatchRecord): ScoredPair {
  const compiled = 'levelWeights' in model ? model : compileModel(model);
  const prepared = prepareRecords([a, b], compiled.comparisons);
  const levels = levelsOfPreparedPair(compiled, prepared, 0, 1);
  return buildScoredPair(compiled, a.id, b.id, levels, column(prepared, 0), column(prepared, 1));
}

/** Options of `matchRecords`. */
export interface MatchRecordsOptions extends TrainOptions {
  /** Use this trained model (and its embedded configuration) instead of training one on the records. */
  model?: MatchModel;
  /** Only pairs with at least this probability are returned (default: the review threshold). */
  minProbability?: number;
}

/** Result of the batch pipeline. */
export interface MatchResult {
  /** The model used (trained on the records unless one was given). */
  model: MatchModel;
  /** Number of candidate pairs produced by blocking. */
  candidatePairs: number;
  /** Blocks skipped for exceeding the block-size cap. */
  skippedBlocks: number;
  /** Per-rule blocking statistics. */
  blocking: BlockingRuleStats[];
  /** Scored pairs with probability >= minProbability, best first, with explanations. */
  pairs: ScoredPair[];
  /** Clusters (size >= 2) formed by the auto-merge pairs. */
  clusters: string[][];
  /** Number of pairs at or above autoMerge. */
  mergeCount: number;
  /** Number of pairs in [review, autoMerge). */
  reviewCount: number;
  /** Milliseconds spent in each phase. */
  timings: { blockingAndTrainingMs: number; scoringMs: number };
}

/**
 * Batch deduplication: blocks the records, trains a model (unless `options.model` is given),
 * scores every candidate pair, applies the thresholds and clusters the auto-merge pairs.
 */
export function matchRecords(records: MatchRecord[], config: MatchingConfig, options: MatchRecordsOptions = {}): MatchResult {
  const t0 = performance.now();
  let model: MatchModel;
  let comparisons: CompiledComparison[];
  let prepared: PreparedRecords;
  let candidates: ReturnType<typeof generateCandidatePairs>;
  let vectors: Int8Array;
  if (options.model) {
    model = options.model;
    comparisons = compileComparisons(model.config);
    prepared = prepareRecords(records, comparisons);
    candidates = generateCandidatePairs(records, model.config);
    vectors = computeComparisonVectors(prepared, comparisons, candidates);
  } else {
    const run = trainModelDetailed(records, config, options);
    ({ model, comparisons, prepared, candidates, vectors } = run);
  }
  const t1 = performance.now();
  const compiled = compileModel(model);
  const thresholds = model.config.thresholds;
  const minProbability = options.minProbability ?? thresholds.review;
  const K = compiled.comparisons.length;
  const pairs: ScoredPair[] = [];
  let mergeCount = 0;
  let reviewCount = 0;
  for (let p = 0; p < candidates.count; p++) {
    const levels = vectors.subarray(p * K, p * K + K);
    const probability = matchProbability(weightOfLevels(compiled, levels));
    if (probability >= thresholds.autoMerge) mergeCount++;
    else if (probability >= thresholds.review) reviewCount++;
    if (probability < minProbability) continue;
    const i = candidates.a[p];
    const j = candidates.b[p];
    pairs.push(buildScoredPair(compiled, records[i].id, records[j].id, levels, column(prepared, i), column(prepared, j)));
  }
  pairs.sort((x, y) => y.weight - x.weight);
  const clusters = clusterAutoMerges(pairs, thresholds);
  const t2 = performance.now();
  return {
    model,
    candidatePairs: candidates.count,
    skippedBlocks: candidates.skippedBlocks,
    blocking: candidates.rules,
    pairs,
    clusters,
    mergeCount,
    reviewCount,
    timings: { blockingAndTrainingMs: t1 - t0, scoringMs: t2 - t1 },
  };
}

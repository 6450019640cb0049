/** Public API of the probabilistic identity-resolution engine. */
export * from './matching.types';
export { jaro, jaroWinkler } from './jaro-winkler';
export { editDistance, withinOneEdit, tokenJaccard, tokenSet, soundex } from './string-metrics';
export {
  getTraitValue,
  normalizeText,
  normalizeName,
  normalizeFreeText,
  normalizeEmail,
  normalizePhone,
  normalizeAlnum,
  normalizeExact,
  normalizeDate,
} from './normalize';
export {
  NULL_LEVEL,
  NULL_LEVEL_LABEL,
  ELSE_LEVEL_LABEL,
  defaultLevels,
  levelLabel,
  compileComparison,
  prepareRecords,
  type CompiledComparison,
  type PreparedRecords,
} from './comparison';
export {
  blockingKeyPart,
  compileBlockingRules,
  generateCandidatePairs,
  type CandidatePairs,
  type BlockingRuleStats,
  type CompiledBlockingRule,
} from './blocking';
export {
  DEFAULT_TRAINING,
  trainModel,
  trainModelDetailed,
  compileComparisons,
  resolveTraining,
  type TrainOptions,
  type TrainingRun,
} from './trainer';
export { estimateU } from './u.estimator';
export { estimateMByEm, computeComparisonVectors, type EmResult } from './em.estimator';
export { clampProbability, clampDistribution, initialM } from './probability';
export { seededRandom, seededInt } from './random';
export {
  compileModel,
  matchProbability,
  decide,
  scorePair,
  matchRecords,
  type CompiledModel,
  type MatchRecordsOptions,
  type MatchResult,
} from './matcher';
export { UnionFind, clusterPairs, clusterAutoMerges, type ClusterOptions } from './clustering';
export { BlockingIndex, blockingKeysOf, scoreIncremental, type RecordBlockingKey } from './incremental';
export { pairwiseMetrics, countTruePairs, type PairwiseMetrics } from './evaluation';
export {
  FEBRL_COLUMN_TRAITS,
  parseCsv,
  parseFebrlCsv,
  loadFebrlCsv,
  febrlEntityOf,
  combineDatasets,
  type FebrlParseOptions,
  type LabelledDataset,
} from './febrl';
export { DEFAULT_PERSON_MATCHING_CONFIG } from './default-config';

export { loadMovieLens, loadMovies, parseMovieLens, parseMovies, type MovieItem, type MovieLensFormat } from './movielens.loader';
export { hitRateAtK, ndcgAtK, precisionAtK, recallAtK } from './metrics';
export { leaveLastOut, randomHoldout, type HoldoutSplit } from './split';
export { defaultModelSpecs, evaluateRanking, runEvaluation, type ModelResult, type ModelSpec, type RankingReport } from './evaluate';
export {
  catalogSnapshot,
  evaluateItemToItem,
  evaluateSimilarItems,
  recentTrainingItems,
  servedModel,
  type CatalogItem,
  type SimilarItemsReport,
} from './similar-items';

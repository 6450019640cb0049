export * from './models';
export * as evaluation from './eval';
export { recommendationsPlugin } from './plugin/recommendations.plugin';
export type { RecommendationsOptions } from './plugin/options';
export { DEFAULT_WEIGHTS } from './plugin/options';
export { productsOf, coerceNumber, kindOf, type ProductMention } from './plugin/products';
export { trainRecommendations, type TrainSummary } from './plugin/train';
export { RecItem, RecInteraction, RecModel } from './plugin/entities';
export { ItemType, RecommendationType, ItemInput, RecommendationContextInput, MANAGE as RECOMMENDATIONS_MANAGE } from './plugin/graphql';

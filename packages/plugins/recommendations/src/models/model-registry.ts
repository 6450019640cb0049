import { EaseModel, type EaseJSON } from './ease.model';
import { ItemKnnModel, type ItemKnnJSON } from './item-knn.model';
import type { Recommender, SerializedModel } from './model.types';
import { MultDaeModel, type MultDaeJSON } from './mult-dae.model';
import { PopularityModel, type PopularityJSON } from './popularity.model';

/** Restores any model from its `toJSON()` form, by its `type`. */
export function recommenderFromJSON(json: SerializedModel): Recommender {
  switch (json.type) {
    case 'popularity':
      return PopularityModel.fromJSON(json as PopularityJSON);
    case 'ease':
      return EaseModel.fromJSON(json as EaseJSON);
    case 'item-knn':
      return ItemKnnModel.fromJSON(json as ItemKnnJSON);
    case 'mult-dae':
      return MultDaeModel.fromJSON(json as MultDaeJSON);
    default:
      throw new TypeError(`Unknown recommender type "${json.type}"`);
  }
}

import { EaseModel, type EaseOptions } from '../models/ease.model';
import type { InteractionMatrix } from '../models/interaction-matrix';
import { SeededRandom } from '../models/seeded-random';
import { CatalogSnapshot, indexItems } from '../plugin/catalog-cache';
import type { LoadedModel } from '../plugin/model-store';
import { NEW_ITEM_SLOTS, rankSimilar, type NewItemSlots } from '../plugin/ranking';
import { hitRateAtK, ndcgAtK } from './metrics';
import { leaveLastOut, randomHoldout, type HoldoutSplit } from './split';

/** A catalog item as `similarItems` sees it (the fields attribute similarity reads). */
export interface CatalogItem {
  id: string;
  title: string | null;
  category: string | null;
  attributes: Record<string, unknown>;
}

/**
 * A serving snapshot of `items`, all available, filled as `CatalogCache` fills it after a load (same
 * `tokensOf` tokens, posting lists in item order, through `indexItems`) with `trending(id)` as each item's trending
 * score (only the tie-break between equally similar items reads it). Only what the ranking functions
 * read is set (no rows, no popularity lists).
 */
export function catalogSnapshot(items: readonly CatalogItem[], trending: (id: string) => number = () => 0): CatalogSnapshot {
  const s = new CatalogSnapshot();
  s.available = new Uint8Array(items.length).fill(1);
  s.scratch = new Uint16Array(items.length);
  s.trending = new Float64Array(items.length);
  indexItems(s, items, (r, i) => {
    s.trending[i] = trending(r.id);
  });
  s.loadedAt = s.memoSince = Date.now();
  return s;
}

/**
 * The model as the plugin serves it after training on `train` with `options` (`fitModels` in
 * src/plugin/train.ts: EASE, learned items = `ease.learnedItems(train.itemUserCounts())`), without
 * the database round trip. Items of `train` with no training interaction are in the index but not
 * learned, as items the trained model never saw are not learned when served.
 */
export async function servedModel(train: InteractionMatrix, options: EaseOptions): Promise<LoadedModel> {
  const ease = new EaseModel(options);
  await ease.fit(train);
  const learned = new Set(ease.learnedItems(train.itemUserCounts()).items);
  const itemIds = [...train.itemIds];
  return { id: 'eval', version: 0, createdAt: new Date(0), ease, index: new Map(itemIds.map((id, i) => [id, i])), itemIds, learned };
}

/**
 * The `n` most recent items of user `u`'s training history (by timestamp, newest first; items
 * rated in the same second in a seeded random order). Without timestamps: `n` random items.
 */
export function recentTrainingItems(train: InteractionMatrix, u: number, n: number, rng: SeededRandom): number[] {
  const entries: Array<{ item: number; t: number }> = [];
  for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) entries.push({ item: train.indices[p], t: train.timestamps?.[p] ?? 0 });
  rng.shuffle(entries);
  // A stable sort keeps the shuffled order among equal timestamps.
  return entries
    .sort((a, b) => b.t - a.t)
    .slice(0, n)
    .map((e) => e.item);
}

/** Item-to-item figures over every (user, seed item) list; shares are over lists. */
export interface SimilarItemsReport {
  /** Lists scored: one per seed item of every user with held-out items. */
  lists: number;
  /** Lists whose seed item the model has learned (the only ones kept places can change). */
  learnedSeeds: number;
  ndcg: number;
  hitRate: number;
  /** Share of lists with at least one item the model has not learned in the top k. */
  unlearnedExposure: number;
  /** The same share over the lists of learned seeds only (where kept places act). */
  unlearnedExposureLearnedSeeds: number;
  /** Mean number of such items per list. */
  unlearnedPerList: number;
  /** Share of lists where such an item is a hit (one of the user's held-out items). */
  unlearnedHitRate: number;
}

/**
 * Scores item-to-item lists against held-out items. For every user with held-out items in `split`,
 * each of the user's `seedsPerUser` most recent training items ({@link recentTrainingItems}) is a
 * seed; `rank(seed)` gives the list (matrix item indices, best first; -1 for items outside the
 * matrix, never relevant); relevance = the user's held-out items. NDCG@k and HR@k as in
 * `metrics.ts` (binary, ideal = min(k, |held out|) hits), averaged over lists. `learned(item)` says
 * whether the model knows an item, for the exposure figures and for `learnedSeeds`.
 */
export function evaluateItemToItem(
  split: HoldoutSplit,
  rank: (seed: number) => readonly number[],
  learned: (item: number) => boolean,
  opts: { k?: number; seedsPerUser?: number; seed?: number } = {},
): SimilarItemsReport {
  const k = opts.k ?? 10;
  const rng = new SeededRandom(opts.seed ?? 42);
  const sum = { lists: 0, learnedSeeds: 0, ndcg: 0, hitRate: 0, unlearnedExposure: 0, unlearnedExposureLearnedSeeds: 0, unlearnedPerList: 0, unlearnedHitRate: 0 };
  for (let u = 0; u < split.test.length; u++) {
    if (split.test[u].length === 0) continue;
    const relevant = new Set(split.test[u]);
    for (const seed of recentTrainingItems(split.train, u, opts.seedsPerUser ?? 1, rng)) {
      const ranked = rank(seed).slice(0, k);
      const unlearned = ranked.filter((i) => i < 0 || !learned(i));
      sum.lists++;
      if (learned(seed)) {
        sum.learnedSeeds++;
        sum.unlearnedExposureLearnedSeeds += unlearned.length > 0 ? 1 : 0;
      }
      sum.ndcg += ndcgAtK(ranked, relevant, k);
      sum.hitRate += hitRateAtK(ranked, relevant, k);
      sum.unlearnedExposure += unlearned.length > 0 ? 1 : 0;
      sum.unlearnedPerList += unlearned.length;
      sum.unlearnedHitRate += unlearned.some((i) => relevant.has(i)) ? 1 : 0;
    }
  }
  const d = Math.max(1, sum.lists);
  return {
    lists: sum.lists,
    learnedSeeds: sum.learnedSeeds,
    ndcg: sum.ndcg / d,
    hitRate: sum.hitRate / d,
    unlearnedExposure: sum.unlearnedExposure / d,
    unlearnedExposureLearnedSeeds: sum.unlearnedExposureLearnedSeeds / Math.max(1, sum.learnedSeeds),
    unlearnedPerList: sum.unlearnedPerList / d,
    unlearnedHitRate: sum.unlearnedHitRate / d,
  };
}

/**
 * `similarItems(first: k)` of every seed as the plugin serves it: `rankSimilar` of
 * src/plugin/ranking.ts on `snapshot` and `model`, with the kept places `slots` (default: what is
 * served; `{ every: 0, ... }`: learned neighbours and attribute fill only), scored by
 * {@link evaluateItemToItem}. The matrix of `split` and the model share item ids.
 */
export function evaluateSimilarItems(
  split: HoldoutSplit,
  snapshot: CatalogSnapshot,
  model: LoadedModel,
  opts: { k?: number; seedsPerUser?: number; seed?: number; slots?: Readonly<NewItemSlots> } = {},
): SimilarItemsReport {
  const k = opts.k ?? 10;
  const matrixIndex = new Map(split.train.itemIds.map((id, i) => [id, i]));
  const learned = (i: number) => {
    const m = model.index.get(split.train.itemIds[i]);
    return m !== undefined && model.learned.has(m);
  };
  const rank = (seed: number) =>
    rankSimilar(snapshot, model, split.train.itemIds[seed], k, opts.slots ?? NEW_ITEM_SLOTS).map((c) => matrixIndex.get(c.itemId) ?? -1);
  return evaluateItemToItem(split, rank, learned, opts);
}

/** {@link evaluateSimilarItems} with the served kept places and without them, and the difference. */
export interface SimilarItemsComparison {
  /** Items the model learned neighbours for; every other catalog item is "unlearned". */
  learnedItems: number;
  catalogItems: number;
  /** As served (`NEW_ITEM_SLOTS`). */
  served: SimilarItemsReport;
  /** No kept places (`every: 0`): learned neighbours, then attribute fill. */
  withoutKeptPlaces: SimilarItemsReport;
  /** served.ndcg - withoutKeptPlaces.ndcg (negative: the kept places cost NDCG). */
  ndcgChange: number;
}

/**
 * The item-to-item evaluation of `similarItems` on both splits of `runEvaluation` (seeded random
 * 80/20 per user, and leave-last-out): the model the plugin trains by default (`ease`) is fitted on
 * each training part, the catalog is `items` (trending = training interactions), and every list is
 * scored with the served kept places and without them.
 */
export async function runSimilarItemsEvaluation(
  matrix: InteractionMatrix,
  items: readonly CatalogItem[],
  opts: { ease: EaseOptions; seed?: number; k?: number; seedsPerUser?: number; slots?: Readonly<NewItemSlots>; onProgress?: (message: string) => void },
): Promise<{ random: SimilarItemsComparison; leaveLastOut: SimilarItemsComparison }> {
  const seed = opts.seed ?? 42;
  const run = async (name: string, split: HoldoutSplit): Promise<SimilarItemsComparison> => {
    opts.onProgress?.(`${name}: training the served model`);
    const model = await servedModel(split.train, opts.ease);
    const counts = split.train.itemUserCounts();
    const matrixIndex = new Map(split.train.itemIds.map((id, i) => [id, i]));
    const snapshot = catalogSnapshot(items, (id) => {
      const i = matrixIndex.get(id);
      return i === undefined ? 0 : counts[i];
    });
    const common = { k: opts.k, seedsPerUser: opts.seedsPerUser, seed };
    const served = evaluateSimilarItems(split, snapshot, model, { ...common, slots: opts.slots ?? NEW_ITEM_SLOTS });
    const withoutKeptPlaces = evaluateSimilarItems(split, snapshot, model, { ...common, slots: { every: 0, minSimilarity: 1 } });
    return { learnedItems: model.learned.size, catalogItems: items.length, served, withoutKeptPlaces, ndcgChange: served.ndcg - withoutKeptPlaces.ndcg };
  };
  return {
    random: await run('random 80/20', randomHoldout(matrix, { seed })),
    leaveLastOut: await run('leave-last-out', leaveLastOut(matrix, { seed })),
  };
}

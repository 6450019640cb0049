import { describe, expect, it } from 'vitest';
import { parseMovies } from '../src/eval/movielens.loader';
import { catalogSnapshot, evaluateItemToItem, evaluateSimilarItems, servedModel } from '../src/eval/similar-items';
import type { HoldoutSplit } from '../src/eval/split';
import { InteractionMatrix } from '../src/models';
import { NEW_ITEM_EVERY } from '../src/plugin/ranking';

/**
 * Issue 18, point 3: the item-to-item evaluation of similarItems (`eval-recs --similar`) on tiny
 * examples whose figures are computed by hand.
 */

const g = (rank: number) => 1 / Math.log2(rank + 1); // gain of a hit at 1-based `rank`

/** A split over items 0..5: each user's training entries (item, timestamp) and held-out items. */
function tinySplit(): HoldoutSplit {
  const users: Array<{ train: Array<[number, number]>; test: number[] }> = [
    { train: [[0, 1], [1, 5]], test: [2, 3] }, // seed: item 1 (rated last)
    { train: [[3, 2]], test: [4] }, // seed: item 3
    { train: [[4, 3], [0, 1]], test: [1] }, // seed: item 4, which the model has not learned
    { train: [[5, 9]], test: [] }, // nothing held out: not evaluated
  ];
  const train = InteractionMatrix.fromUserLists(
    users.map((_, u) => `u${u}`),
    ['i0', 'i1', 'i2', 'i3', 'i4', 'i5'],
    users.map((x) => x.train.map(([item, timestamp]) => ({ item, weight: 1, timestamp }))),
  );
  return { train, test: users.map((x) => x.test) };
}

describe('item-to-item evaluation: the metric', () => {
  // -1: a catalog item outside the matrix (no interaction at all), so unlearned and never relevant.
  const lists: Record<number, number[]> = { 1: [2, 5, 3], 3: [0, 4], 4: [5, -1, 2], 5: [0, 1, 2] };
  const learned = (i: number) => i <= 3; // items 4 and 5 are "unlearned"

  it('scores each user with held-out items on the list of their most recent training item', () => {
    const seen: number[] = [];
    const r = evaluateItemToItem(tinySplit(), (seed) => (seen.push(seed), lists[seed]), learned, { k: 10 });
    expect(seen).toEqual([1, 3, 4]); // user 3 has nothing held out
    // u0: hits at 1 and 3 of 2 relevant; u1: hit at 2 of 1; u2: no hit.
    const ndcg = [(g(1) + g(3)) / (g(1) + g(2)), g(2) / g(1), 0];
    expect(r.lists).toBe(3);
    expect(r.learnedSeeds).toBe(2);
    expect(r.ndcg).toBeCloseTo((0.9197207891481876 + 0.6309297535714575 + 0) / 3, 12);
    expect(r.ndcg).toBeCloseTo((ndcg[0] + ndcg[1] + ndcg[2]) / 3, 12);
    expect(r.hitRate).toBeCloseTo(2 / 3, 12);
    // Unlearned items in the lists: 5 (u0), 4 (u1, a hit), 5 and -1 (u2).
    expect(r.unlearnedExposure).toBe(1);
    expect(r.unlearnedExposureLearnedSeeds).toBe(1);
    expect(r.unlearnedPerList).toBeCloseTo(4 / 3, 12);
    expect(r.unlearnedHitRate).toBeCloseTo(1 / 3, 12);
  });

  it('counts only the first k places, and the ideal is min(k, |held out|) hits', () => {
    const r = evaluateItemToItem(tinySplit(), (seed) => lists[seed], learned, { k: 1 });
    // u0: [2] hit, ideal 1 hit; u1: [0] no hit; u2: [5] no hit.
    expect(r.ndcg).toBeCloseTo(1 / 3, 12);
    expect(r.hitRate).toBeCloseTo(1 / 3, 12);
    expect(r.unlearnedExposure).toBeCloseTo(1 / 3, 12); // only u2's [5]
    expect(r.unlearnedExposureLearnedSeeds).toBe(0);
    expect(r.unlearnedHitRate).toBe(0);
  });

  it('with several seeds per user, scores one list per seed, newest first', () => {
    const seen: number[] = [];
    const r = evaluateItemToItem(tinySplit(), (seed) => (seen.push(seed), lists[seed] ?? []), learned, { k: 10, seedsPerUser: 2 });
    expect(seen).toEqual([1, 0, 3, 4, 0]);
    expect(r.lists).toBe(5);
    expect(r.learnedSeeds).toBe(4);
  });
});

describe('item-to-item evaluation: the served similarItems', () => {
  /**
   * Items L0..L10 that 5 users all viewed (in that order), plus N, alike by attributes and viewed by
   * nobody in training: the model learns L0..L10 (all equally related) and not N. User 0 held out
   * N; the seed is L10, viewed last.
   */
  async function lineShop() {
    const ids = [...Array.from({ length: 11 }, (_, k) => `L${k}`), 'N'];
    const train = InteractionMatrix.fromUserLists(
      ['u0', 'u1', 'u2', 'u3', 'u4'],
      ids,
      Array.from({ length: 5 }, () => Array.from({ length: 11 }, (_, item) => ({ item, weight: 1, timestamp: 1000 * item }))),
    );
    const split: HoldoutSplit = { train, test: [[11], [], [], [], []] };
    const model = await servedModel(train, { lambda: 5, minItemUsers: 2 });
    const snapshot = catalogSnapshot(ids.map((id) => ({ id, title: id, category: 'Line', attributes: { kind: 'shoe' } })));
    return { split, model, snapshot };
  }

  it('scores rankSimilar with the kept places as served, and without them', async () => {
    const { split, model, snapshot } = await lineShop();
    expect([...model.learned].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Served: the nine learned neighbours of L10, then N in the kept place (the NEW_ITEM_EVERY-th).
    const served = evaluateSimilarItems(split, snapshot, model, { k: 10 });
    expect(served).toMatchObject({ lists: 1, learnedSeeds: 1, hitRate: 1, unlearnedExposure: 1, unlearnedPerList: 1, unlearnedHitRate: 1 });
    expect(served.ndcg).toBeCloseTo(g(NEW_ITEM_EVERY), 12);
    // Kept places off: the ten learned neighbours, N nowhere.
    const off = evaluateSimilarItems(split, snapshot, model, { k: 10, slots: { every: 0, minSimilarity: 0 } });
    expect(off).toMatchObject({ lists: 1, ndcg: 0, hitRate: 0, unlearnedExposure: 0, unlearnedPerList: 0 });
    // Every 4th place: N is 4th.
    const fourth = evaluateSimilarItems(split, snapshot, model, { k: 10, slots: { every: 4, minSimilarity: 0.5 } });
    expect(fourth.ndcg).toBeCloseTo(g(4), 12);
    // A similarity bar N does not reach (N and L10 share both tokens: Jaccard 1): no kept place.
    const alike = catalogSnapshot(split.train.itemIds.map((id) => ({ id, title: id, category: 'Line', attributes: id === 'N' ? { kind: 'boot' } : { kind: 'shoe' } })));
    const bar = evaluateSimilarItems(split, alike, model, { k: 10, slots: { every: 4, minSimilarity: 0.5 } });
    expect(bar).toMatchObject({ ndcg: 0, unlearnedExposure: 0 }); // Jaccard 1/3
  });
});

describe('MovieLens movies as catalog items', () => {
  it('category = first genre, attributes = genres and year, quoted titles kept whole', () => {
    const items = parseMovies(
      'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n11,"American President, The (1995)",Comedy|Drama|Romance\n2,Untitled,(no genres listed)\n',
    );
    expect(items).toEqual([
      { id: '1', title: 'Toy Story (1995)', category: 'Adventure', attributes: { genres: ['Adventure', 'Animation', 'Children'], year: 1995 } },
      { id: '11', title: 'American President, The (1995)', category: 'Comedy', attributes: { genres: ['Comedy', 'Drama', 'Romance'], year: 1995 } },
      { id: '2', title: 'Untitled', category: null, attributes: { genres: [] } },
    ]);
  });
});

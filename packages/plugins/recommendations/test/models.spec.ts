import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentBackend, initTensorflow } from '../../../core/src/ml';
import { hitRateAtK, ndcgAtK, precisionAtK, recallAtK } from '../src/eval/metrics';
import { parseMovieLens } from '../src/eval/movielens.loader';
import { leaveLastOut, randomHoldout } from '../src/eval/split';
import { evaluateRanking } from '../src/eval/evaluate';
import { invertSpd } from '../src/models/dense-linalg';
import { DenseItemWeights, quantizeRows } from '../src/models/dense-item-weights';
import { axpyWasmBytes, useSimd } from '../src/models/axpy-kernel';
import {
  EaseModel,
  InteractionMatrix,
  ItemKnnModel,
  MultDaeModel,
  PopularityModel,
  recommenderFromJSON,
  SeededRandom,
  topK,
  type HistoryEntry,
  type Interaction,
  type Recommender,
} from '../src/models';

/**
 * Two tastes over 8 items: "A" users take items 0,1,2 (item 0 and 1 nearly always together),
 * "B" users take 4,5,6; item 3 and 7 are popular with everyone.
 */
function syntheticMatrix(seed = 1): InteractionMatrix {
  const rng = new SeededRandom(seed);
  const rows: Interaction[] = [];
  for (let u = 0; u < 120; u++) {
    const taste = u % 2 === 0 ? [0, 1, 2] : [4, 5, 6];
    for (const item of taste) if (rng.next() < (item === 2 || item === 6 ? 0.5 : 0.9)) rows.push({ user: u, item, timestamp: u * 1000 });
    if (rng.next() < 0.7) rows.push({ user: u, item: 3, timestamp: u * 1000 });
    if (rng.next() < 0.3) rows.push({ user: u, item: 7, timestamp: u * 1000 });
  }
  return InteractionMatrix.fromInteractions(rows, { itemIds: ['0', '1', '2', '3', '4', '5', '6', '7'] });
}

const h = (...items: number[]): HistoryEntry[] => items.map((item) => ({ item, weight: 1 }));
const best = (m: Recommender, history: HistoryEntry[]) => topK(m.scoreUser(history), 1, history.map((e) => e.item))[0];

describe('metrics', () => {
  const ranked = [1, 2, 3, 4, 5];
  const relevant = new Set([2, 5, 9]);

  it('precision, recall (hits / min(k, |relevant|)), hit rate', () => {
    expect(precisionAtK(ranked, relevant, 5)).toBeCloseTo(2 / 5, 10);
    expect(recallAtK(ranked, relevant, 5)).toBeCloseTo(2 / 3, 10);
    expect(recallAtK(ranked, relevant, 2)).toBeCloseTo(1 / 2, 10);
    expect(hitRateAtK(ranked, relevant, 5)).toBe(1);
    expect(hitRateAtK(ranked, relevant, 1)).toBe(0);
    expect(recallAtK(ranked, new Set(), 5)).toBe(0);
  });

  it('NDCG@k on a hand-computed example', () => {
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(6); // hits at ranks 2 and 5
    const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4); // three relevant items
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo(dcg / idcg, 10);
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo(0.477626, 5);
    expect(ndcgAtK([9, 2, 5], relevant, 3)).toBeCloseTo(1, 10);
    expect(ndcgAtK([7], new Set([7]), 10)).toBe(1);
    expect(ndcgAtK([0, 7], new Set([7]), 10)).toBeCloseTo(1 / Math.log2(3), 10);
  });

  it('topK orders by score, skips excluded and non-finite entries', () => {
    expect(topK([0.1, 0.9, 0.5, Number.NEGATIVE_INFINITY, 0.7], 3)).toEqual([1, 4, 2]);
    expect(topK([0.1, 0.9, 0.5, 0.7], 2, [1])).toEqual([3, 2]);
    expect(topK([1, 1, 1], 2)).toEqual([0, 1]);
  });

  it('topK equals a full sort (score desc, index asc) on random inputs with ties and non-finite scores', () => {
    const score = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY));
    fc.assert(
      fc.property(fc.array(score, { maxLength: 60 }), fc.integer({ min: 0, max: 70 }), fc.array(fc.nat(60), { maxLength: 10 }), (scores, k, exclude) => {
        const skip = new Set(exclude);
        const expected = scores
          .map((s, i) => ({ s, i }))
          .filter(({ s, i }) => Number.isFinite(s) && !skip.has(i))
          .sort((a, b) => b.s - a.s || a.i - b.i)
          .slice(0, k)
          .map(({ i }) => i);
        expect(topK(scores, k, exclude)).toEqual(expected);
        expect(topK(Float32Array.from(scores), k, exclude)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it.each([true, false])('dense weights score exactly like a plain sum of rows (WebAssembly SIMD: %s)', (simd) => {
    useSimd(simd);
    try {
      // 21 columns: not a multiple of the 4 (float32) or 16 (int8) the kernel pads rows to.
      const n = 21;
      const rng = new SeededRandom(3);
      const weights = Float32Array.from({ length: n * n }, () => rng.next() - 0.5);
      weights.fill(0, 5 * n, 6 * n); // an all-zero row
      const items = Int32Array.from({ length: n }, (_, c) => 2 * c + (c % 3 === 0 ? 1 : 0));
      const numItems = 2 * n + 2;
      const q = quantizeRows(weights, n);
      const asServed = { float32: weights, int8: Float32Array.from(weights, (_, k) => q.int8[k] * q.scales[Math.floor(k / n)]) };
      for (const precision of ['float32', 'int8'] as const) {
        const table = new DenseItemWeights(numItems, items, weights, precision);
        const W = asServed[precision];
        expect(table.simd).toBe(simd);
        expect(table.precision).toBe(precision);
        expect(table.weights).toEqual(W);
        expect(table.weight(items[2], items[4])).toBe(W[2 * n + 4]);
        expect(table.weight(0, items[4])).toBe(0); // 0 is not in the table
        for (const len of [0, 1, 3, 4, 5, 9, 14, 40]) {
          const history = Array.from({ length: len }, (_, k) => ({ item: k % 5 === 4 ? 0 : items[(k * 7) % n], weight: 1 + (k % 3) }));
          const expected = new Float64Array(numItems);
          for (const { item, weight } of history) {
            const r = items.indexOf(item);
            if (r >= 0) for (let c = 0; c < n; c++) expected[items[c]] += weight * W[r * n + c];
          }
          const got = table.accumulate(history, new Float32Array(numItems));
          got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
        }
      }
    } finally {
      useSimd(true);
    }
  });

  it('int8 weights stay within half a step of the float32 ones and round-trip through JSON unchanged', () => {
    const n = 37;
    const rng = new SeededRandom(11);
    const weights = Float32Array.from({ length: n * n }, (_, k) => (k % n === Math.floor(k / n) ? 0 : (rng.next() - 0.5) * (1 + (k % 5))));
    const items = Int32Array.from({ length: n }, (_, c) => c);
    const table = new DenseItemWeights(n, items, weights, 'int8');
    const served = table.weights;
    for (let r = 0; r < n; r++) {
      const row = weights.subarray(r * n, r * n + n);
      const max = Math.max(...row.map(Math.abs));
      for (let c = 0; c < n; c++) expect(Math.abs(served[r * n + c] - row[c])).toBeLessThanOrEqual((max / 127) * 0.5 + 1e-7);
      expect(Math.max(...served.subarray(r * n, r * n + n).map(Math.abs))).toBeCloseTo(max, 6); // the largest weight is exact
    }
    const json = JSON.parse(JSON.stringify(table.toJSON()));
    expect(json.weights).toBeUndefined();
    const restored = DenseItemWeights.fromJSON(json);
    expect(restored.precision).toBe('int8');
    expect(restored.weights).toEqual(served);
    // A float32 table (as stored before int8 existed) still loads as float32.
    const f32 = DenseItemWeights.fromJSON(JSON.parse(JSON.stringify(new DenseItemWeights(n, items, weights).toJSON())));
    expect(f32.precision).toBe('float32');
    expect(f32.weights).toEqual(weights);
    expect(() => DenseItemWeights.fromJSON({ numItems: n, items: json.items })).toThrow(/weights/);
  });

  it('the WebAssembly kernel is the build of its source, axpy.wat', async () => {
    const wabt = await (await import('wabt')).default();
    const source = fs.readFileSync(path.join(__dirname, '../src/models/axpy.wat'), 'utf8');
    const built = wabt.parseWat('axpy.wat', source, { simd: true }).toBinary({}).buffer;
    expect(Buffer.from(built).equals(Buffer.from(axpyWasmBytes()))).toBe(true);
  });
});

describe('data', () => {
  it('loads both MovieLens formats', () => {
    const csv = parseMovieLens('userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n2,10,5.0,300\n');
    expect(csv.format).toBe('csv');
    expect([csv.matrix.numUsers, csv.matrix.numItems, csv.matrix.nnz]).toEqual([2, 2, 3]);
    expect(csv.matrix.itemIds).toEqual(['10', '20']);
    expect(Array.from(csv.matrix.timestamps!)).toEqual([100_000, 200_000, 300_000]);
    const tsv = parseMovieLens('196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t881251000\n');
    expect(tsv.format).toBe('tsv');
    expect(tsv.matrix.history(0)).toEqual([
      { item: 0, weight: 1 },
      { item: 1, weight: 1 },
    ]);
  });

  it('random hold-out is per user, disjoint, ~20% and reproducible', () => {
    const m = syntheticMatrix();
    const a = randomHoldout(m, { seed: 3, minInteractions: 3 });
    const b = randomHoldout(m, { seed: 3, minInteractions: 3 });
    expect(a.test).toEqual(b.test);
    for (let u = 0; u < m.numUsers; u++) {
      const train = new Set(a.train.history(u).map((e) => e.item));
      expect(a.train.rowLength(u) + a.test[u].length).toBe(m.rowLength(u));
      for (const t of a.test[u]) expect(train.has(t)).toBe(false);
      if (m.rowLength(u) < 3) expect(a.test[u]).toEqual([]);
    }
    const held = a.test.reduce((s, t) => s + t.length, 0);
    expect(held / m.nnz).toBeGreaterThan(0.15);
    expect(held / m.nnz).toBeLessThan(0.35);
  });

  it('leave-last-out holds out the latest interaction', () => {
    const m = InteractionMatrix.fromInteractions([
      { user: 'a', item: 'x', timestamp: 1 },
      { user: 'a', item: 'y', timestamp: 3 },
      { user: 'a', item: 'z', timestamp: 2 },
      { user: 'b', item: 'x', timestamp: 1 },
    ]);
    const s = leaveLastOut(m);
    expect(s.test).toEqual([[1], []]);
    expect(s.train.history(0).map((e) => e.item)).toEqual([0, 2]);
  });
});

describe('EASE serving shortcuts', () => {
  /** 60 items, 300 users with random tastes; items 50+ are rare (not learned with minItemUsers 8). */
  function randomMatrix(): InteractionMatrix {
    const rng = new SeededRandom(11);
    const rows: Interaction[] = [];
    for (let u = 0; u < 300; u++) {
      const base = Math.floor(rng.next() * 5) * 10;
      for (let k = 0; k < 8; k++) rows.push({ user: u, item: (base + Math.floor(rng.next() * 12)) % 50, timestamp: 0 });
      if (rng.next() < 0.03) rows.push({ user: u, item: 50 + Math.floor(rng.next() * 10), timestamp: 0 });
    }
    return InteractionMatrix.fromInteractions(rows, { itemIds: Array.from({ length: 60 }, (_, i) => String(i)) });
  }

  it.each([true, false])('rank() and explainMany() give what scoreUser/topK and explain give (WebAssembly SIMD: %s)', async (simd) => {
    useSimd(simd);
    try {
      for (const precision of ['int8', 'float32'] as const) {
      const model = new EaseModel({ lambda: 20, minItemUsers: 8, precision });
      await model.fit(randomMatrix());
      const rng = new SeededRandom(5);
      for (let t = 0; t < 40; t++) {
        const history = Array.from({ length: 1 + Math.floor(rng.next() * 15) }, () => ({ item: Math.floor(rng.next() * 60), weight: 1 + Math.floor(rng.next() * 3) }));
        const scores = model.scoreUser(history);
        for (const k of [1, 5, 30]) {
          const expected = topK(scores, k).filter((i) => scores[i] > 1e-6).map((item) => ({ item, score: scores[item] }));
          expect(model.rank(history, k, 1e-6)).toEqual(expected);
        }
        const items = topK(scores, 12);
        expect(model.explainMany(history, items)).toEqual(items.map((i) => model.explain(history, i).becauseItem));
      }
      }
    } finally {
      useSimd(true);
    }
  });
});

describe('item-to-item models', () => {
  for (const make of [() => new EaseModel({ lambda: 5, minItemUsers: 1 }), () => new ItemKnnModel({ shrink: 0 })]) {
    const name = make().name;

    it(`${name} recommends the co-occurring item and explains it`, async () => {
      const model = make();
      await model.fit(syntheticMatrix());
      expect(best(model, h(0))).toBe(1);
      expect(best(model, h(4))).toBe(5);
      expect(model.explain(h(0, 4), 1)).toEqual({ reason: 'because you interacted with', becauseItem: 0 });
    });

    it(`${name} scores from the current history: a new interaction changes the ranking without refit`, async () => {
      const model = make();
      await model.fit(syntheticMatrix());
      const history = h(0);
      const before = topK(model.scoreUser(history), 3, [0]);
      history.push({ item: 5, weight: 1 }, { item: 4, weight: 1 });
      const after = topK(model.scoreUser(history), 3, [0, 4, 5]);
      expect(after).not.toEqual(before);
      expect(after).toContain(6);
      expect(before).not.toContain(6);
    });

    it(`${name} round-trips through JSON`, async () => {
      const model = make();
      await model.fit(syntheticMatrix());
      const restored = recommenderFromJSON(JSON.parse(JSON.stringify(model.toJSON())));
      for (const history of [h(0), h(4, 6), h(3), []]) expect(restored.scoreUser(history)).toEqual(model.scoreUser(history));
      expect(restored.toJSON().itemIds).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    });
  }

  it('EASE keeps pruned weights by magnitude and still ranks the co-occurring item first', async () => {
    const model = new EaseModel({ lambda: 5, minItemUsers: 1, neighbours: 2 });
    await model.fit(syntheticMatrix());
    expect(best(model, h(0))).toBe(1);
    const restored = recommenderFromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    expect(restored.scoreUser(h(0, 4))).toEqual(model.scoreUser(h(0, 4)));
  });

  it('blocked inverse matches the identity', async () => {
    const { tf } = await initTensorflow();
    const n = 7;
    const rng = new SeededRandom(5);
    const x = Array.from({ length: 20 * n }, () => rng.normal());
    const gram = tf.tidy(() => {
      const xt = tf.tensor2d(x, [20, n]);
      return tf.add(tf.matMul(tf.transpose(xt), xt), tf.mul(tf.eye(n), 0.5)) as ReturnType<typeof tf.tensor2d>;
    });
    const inv = invertSpd(tf, gram, 3);
    const product = tf.matMul(gram, inv).arraySync();
    product.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 3)));
    tf.dispose([gram, inv]);
  });
});

describe('popularity', () => {
  it('ranks by popularity, explains "popular", round-trips', async () => {
    const model = new PopularityModel();
    await model.fit(syntheticMatrix());
    expect(topK(model.scoreUser([]), 2)).toEqual([3, 0]);
    expect(model.explain([], 3)).toEqual({ reason: 'popular' });
    const restored = recommenderFromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    expect(restored.scoreUser([])).toEqual(model.scoreUser([]));
  });

  it('trending decays old interactions, per category', async () => {
    const day = 86_400_000;
    const rows: Interaction[] = [
      ...Array.from({ length: 5 }, (_, u) => ({ user: `old${u}`, item: 'classic', timestamp: 0 })),
      ...Array.from({ length: 3 }, (_, u) => ({ user: `new${u}`, item: 'fresh', timestamp: 30 * day })),
      { user: 'x', item: 'gadget', timestamp: 30 * day },
    ];
    const m = InteractionMatrix.fromInteractions(rows);
    const plain = new PopularityModel();
    await plain.fit(m);
    expect(topK(plain.scoreUser([]), 1)).toEqual([0]);
    const trending = new PopularityModel({ halfLifeDays: 7, itemCategories: [['film'], ['film'], ['tech']] });
    await trending.fit(m);
    expect(topK(trending.scoreUser([]), 1)).toEqual([1]);
    expect(trending.explain([], 1).reason).toBe('trending');
    expect(topK(trending.scoreCategory('tech'), 3)).toEqual([2]);
  });
});

describe('mult-dae', () => {
  it('trains on the wasm backend (loss decreases), is seeded, and round-trips', async () => {
    await initTensorflow();
    expect(currentBackend()).toBe('wasm');
    const m = syntheticMatrix();
    const opts = { hidden: 16, epochs: 40, batchSize: 32, learningRate: 0.01, minItemUsers: 1, seed: 7 };
    const model = new MultDaeModel(opts);
    await model.fit(m);
    expect(model.losses).toHaveLength(40);
    expect(model.losses[39]).toBeLessThan(model.losses[0] * 0.95);
    expect(best(model, h(0, 2))).toBe(1);
    expect(best(model, h(4, 6))).toBe(5);
    expect(model.explain(h(0, 4), 1).becauseItem).toBe(0);

    const again = new MultDaeModel(opts);
    await again.fit(m);
    expect(again.losses).toEqual(model.losses);

    const restored = recommenderFromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    expect(restored.scoreUser(h(0, 3))).toEqual(model.scoreUser(h(0, 3)));
  });
});

describe('evaluation', () => {
  it('item-to-item beats popularity on the synthetic tastes', async () => {
    const m = syntheticMatrix(2);
    const split = randomHoldout(m, { seed: 1, minInteractions: 2 });
    const pop = new PopularityModel();
    await pop.fit(split.train);
    const ease = new EaseModel({ lambda: 5, minItemUsers: 1 });
    await ease.fit(split.train);
    const p = evaluateRanking(pop, split, 2);
    const e = evaluateRanking(ease, split, 2);
    expect(e.users).toBe(p.users);
    expect(e.ndcg).toBeGreaterThan(p.ndcg);
  });
});

import { describe, expect, it } from 'vitest';
import { EaseModel, InteractionMatrix, recommenderFromJSON, SeededRandom, timeKernelGram, type EaseJSON, type HistoryEntry, type Interaction } from '../src/models';

const DAY = 86_400_000;

/**
 * Random users over `items` items in three tastes; each user takes items in a few sessions (ties,
 * seconds and days apart), item weights 1 to 3, and with `untimed` some interactions carry no
 * timestamp.
 */
function timedMatrix(seed: number, users = 60, items = 10, untimed = false): InteractionMatrix {
  const rng = new SeededRandom(seed);
  const rows: Interaction[] = [];
  for (let u = 0; u < users; u++) {
    let t = 1_600_000_000_000 + Math.floor(rng.next() * 100) * DAY;
    for (let i = 0; i < items; i++) {
      if (rng.next() > (i % 3 === u % 3 ? 0.6 : 0.2)) continue;
      const r = rng.next();
      t += r < 0.2 ? 0 : r < 0.7 ? Math.floor(rng.next() * 600_000) : Math.floor(rng.next() * 40) * DAY;
      rows.push({ user: u, item: i, weight: 1 + Math.floor(rng.next() * 3), ...(untimed && rng.next() < 0.15 ? {} : { timestamp: t }) });
    }
  }
  return InteractionMatrix.fromInteractions(rows, { itemIds: Array.from({ length: items }, (_, i) => String(i)) });
}

/** XᵀX + γ Σ_u X_uᵀ K_u X_u + λI (float64), every pair of a user's entries, no cut-off; NaN times pair with nothing. */
function bruteGram(m: InteractionMatrix, columnOf: Int32Array, n: number, tauSeconds: number, gamma: number, lambda: number, plain = true): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) g[i * n + i] = lambda;
  for (let u = 0; u < m.numUsers; u++) {
    for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) {
      for (let q = m.indptr[u]; q < m.indptr[u + 1]; q++) {
        const a = columnOf[m.indices[p]];
        const b = columnOf[m.indices[q]];
        if (a < 0 || b < 0) continue;
        const tp = m.timestamps![p];
        const tq = m.timestamps![q];
        const k = p === q ? 1 : Number.isNaN(tp) || Number.isNaN(tq) ? 0 : Math.exp(-Math.abs(tp - tq) / (tauSeconds * 1000));
        g[a * n + b] += m.values[p] * m.values[q] * ((plain ? 1 : 0) + gamma * k);
      }
    }
  }
  return g;
}

/** Gauss-Jordan inverse of a small dense SPD matrix (the test's own). */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let k = 0; k < n; k++) {
    const pivot = m[k * n + k];
    for (let j = 0; j < n; j++) {
      m[k * n + j] /= pivot;
      inv[k * n + j] /= pivot;
    }
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = m[i * n + k];
      for (let j = 0; j < n; j++) {
        m[i * n + j] -= f * m[k * n + j];
        inv[i * n + j] -= f * inv[k * n + j];
      }
    }
  }
  return inv;
}

const one = (item: number): HistoryEntry[] => [{ item, weight: 1 }];

describe('EASE with a time kernel', () => {
  it('timeKernelGram is γ Σ_u X_uᵀ K_u X_u over the learned columns (weights, ties, untimed entries)', () => {
    const m = timedMatrix(3, 60, 10, true);
    expect(Array.from(m.timestamps!).some(Number.isNaN)).toBe(true);
    const n = 10;
    // items 2 and 7 are not learned; the others are in reverse order
    const columnOf = Int32Array.from({ length: n }, (_, i) => (i === 2 || i === 7 ? -1 : 0));
    let c = 7;
    for (let i = 0; i < n; i++) if (columnOf[i] === 0) columnOf[i] = c--;
    for (const [tau, gamma] of [[300, 2], [5 * 86_400, 0.5]] as const) {
      const got = timeKernelGram(m, columnOf, 8, { tauSeconds: tau, weight: gamma });
      const want = bruteGram(m, columnOf, 8, tau, gamma, 0, false);
      for (let k = 0; k < 64; k++) expect(got[k]).toBeCloseTo(want[k], 4);
    }
    expect(timeKernelGram(m, columnOf, 8, { tauSeconds: 300, weight: 0 }).every((v) => v === 0)).toBe(true);
  });

  it('fits B = I − P diag(1/diag P), P = (XᵀX + γ Σ_u X_uᵀ K_u X_u + λI)⁻¹, exactly', async () => {
    const m = timedMatrix(7);
    const n = m.numItems;
    const identity = Int32Array.from({ length: n }, (_, i) => i);
    const tauSeconds = 3 * 86_400;
    const gamma = 3;
    const lambda = 4;
    const P = inverse(bruteGram(m, identity, n, tauSeconds, gamma, lambda), n);
    const model = new EaseModel({ lambda, minItemUsers: 1, precision: 'float32', timeKernel: { tauSeconds, weight: gamma } });
    await model.fit(m);
    const plain = new EaseModel({ lambda, minItemUsers: 1, precision: 'float32' });
    await plain.fit(m);
    let differs = 0;
    for (let i = 0; i < n; i++) {
      const scores = model.scoreUser(one(i));
      const before = plain.scoreUser(one(i));
      for (let j = 0; j < n; j++) {
        const b = i === j ? 0 : -P[i * n + j] / P[j * n + j];
        expect(scores[j]).toBeCloseTo(b, 4); // plus the popularity prior, at most 1e-6
        differs = Math.max(differs, Math.abs(scores[j] - before[j]));
      }
    }
    expect(differs).toBeGreaterThan(0.01); // the kernel term is not ignored
  });

  it('weight 0 is plain EASE', async () => {
    const m = timedMatrix(5);
    const a = new EaseModel({ lambda: 10, minItemUsers: 1, timeKernel: { tauSeconds: 60, weight: 0 } });
    const b = new EaseModel({ lambda: 10, minItemUsers: 1 });
    await a.fit(m);
    await b.fit(m);
    for (let i = 0; i < m.numItems; i++) expect(a.scoreUser(one(i))).toEqual(b.scoreUser(one(i)));
  });

  it('ranks the item taken close in time above one co-occurring as often but weeks apart', async () => {
    // Every "A" user takes item 0, item 1 ten seconds later and item 2 thirty days later; items 1 and
    // 2 also have 20 users of their own. Plain EASE cannot tell 1 from 2 after item 0.
    const rows: Interaction[] = [];
    for (let u = 0; u < 40; u++) {
      const t = 1_600_000_000_000 + u * DAY;
      rows.push({ user: `a${u}`, item: 0, timestamp: t }, { user: `a${u}`, item: 1, timestamp: t + 10_000 }, { user: `a${u}`, item: 2, timestamp: t + 30 * DAY });
    }
    for (let u = 0; u < 20; u++) rows.push({ user: `b${u}`, item: 1, timestamp: u * DAY }, { user: `c${u}`, item: 2, timestamp: u * DAY });
    const m = InteractionMatrix.fromInteractions(rows, { itemIds: ['0', '1', '2'] });
    const plain = new EaseModel({ lambda: 5, minItemUsers: 1, precision: 'float32' });
    const timed = new EaseModel({ lambda: 5, minItemUsers: 1, precision: 'float32', timeKernel: { tauSeconds: 3600, weight: 2 } });
    await plain.fit(m);
    await timed.fit(m);
    const p = plain.scoreUser(one(0));
    expect(Math.abs(p[1] - p[2])).toBeLessThan(1e-5);
    const s = timed.scoreUser(one(0));
    expect(s[1]).toBeGreaterThan(s[2] + 0.05);
    expect(timed.explain(one(0), 1)).toEqual(plain.explain(one(0), 1));
  });

  it('round-trips through JSON with its options', async () => {
    const model = new EaseModel({ lambda: 8, minItemUsers: 1, timeKernel: { tauSeconds: 600, weight: 4 } });
    await model.fit(timedMatrix(9));
    const json = JSON.parse(JSON.stringify(model.toJSON())) as EaseJSON;
    expect(json.options.timeKernel).toEqual({ tauSeconds: 600, weight: 4 });
    const restored = recommenderFromJSON(json);
    for (const history of [one(0), one(4), [...one(1), ...one(5)], []]) expect(restored.scoreUser(history)).toEqual(model.scoreUser(history));
  });

  it('refuses bad options, the weighted/tuned solvers, and a matrix without timestamps', async () => {
    expect(() => new EaseModel({ timeKernel: { tauSeconds: 0, weight: 1 } })).toThrow(RangeError);
    expect(() => new EaseModel({ timeKernel: { tauSeconds: 60, weight: -1 } })).toThrow(RangeError);
    expect(() => new EaseModel({ timeKernel: { tauSeconds: Number.NaN, weight: 1 } })).toThrow(RangeError);
    expect(() => new EaseModel({ observedWeight: 4, timeKernel: { tauSeconds: 60, weight: 1 } })).toThrow(/observedWeight/);
    expect(() => new EaseModel({ tune: true, timeKernel: { tauSeconds: 60, weight: 1 } })).toThrow(/tune/);
    const untimed = InteractionMatrix.fromInteractions([{ user: 1, item: 'x' }, { user: 1, item: 'y' }, { user: 2, item: 'x' }]);
    await expect(new EaseModel({ minItemUsers: 1, timeKernel: { tauSeconds: 60, weight: 1 } }).fit(untimed)).rejects.toThrow(/timestamps/);
  });
});

import { describe, expect, it } from 'vitest';
import { invertSmallSpd } from '../src/models/dense-linalg';
import { choleskyInPlace, choleskySolve, EaseWeightSolver } from '../src/models/weighted-ease';
import { validationNdcg, validationSplit } from '../src/models/validation';
import { EaseModel, InteractionMatrix, recommenderFromJSON, SeededRandom, type EaseJSON, type Interaction } from '../src/models';

/** Random users over `items` items in three overlapping tastes, plus two popular items. */
function tasteMatrix(seed: number, users = 90, items = 12): InteractionMatrix {
  const rng = new SeededRandom(seed);
  const rows: Interaction[] = [];
  for (let u = 0; u < users; u++) {
    const taste = u % 3;
    for (let i = 0; i < items; i++) {
      const p = i >= items - 2 ? 0.5 : i % 3 === taste ? 0.6 : 0.08;
      if (rng.next() < p) rows.push({ user: u, item: i });
    }
  }
  return InteractionMatrix.fromInteractions(rows, { itemIds: Array.from({ length: items }, (_, i) => String(i)) });
}

/** Dense Gram matrix XᵀX (float64) and the dense rows of X. */
function dense(m: InteractionMatrix): { x: Float64Array[]; gram: Float64Array } {
  const n = m.numItems;
  const x = Array.from({ length: m.numUsers }, (_, u) => {
    const row = new Float64Array(n);
    for (const e of m.history(u)) row[e.item] = e.weight;
    return row;
  });
  const gram = new Float64Array(n * n);
  for (const row of x) for (let i = 0; i < n; i++) if (row[i] !== 0) for (let j = 0; j < n; j++) gram[i * n + j] += row[i] * row[j];
  return { x, gram };
}

/** Solves A b = r for a small dense SPD A (row-major) with the test's own Gaussian elimination. */
function solve(a: Float64Array, r: Float64Array, d: number): Float64Array {
  const m = Float64Array.from(a);
  const b = Float64Array.from(r);
  for (let k = 0; k < d; k++) {
    for (let i = k + 1; i < d; i++) {
      const f = m[i * d + k] / m[k * d + k];
      for (let j = k; j < d; j++) m[i * d + j] -= f * m[k * d + j];
      b[i] -= f * b[k];
    }
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i];
    for (let j = i + 1; j < d; j++) s -= m[i * d + j] * b[j];
    b[i] = s / m[i * d + i];
  }
  return b;
}

/**
 * The definition, column by column: b_j = argmin Σ_u c_uj (x_uj − Σ_{i≠j} x_ui b_ij)² + λ‖b_j‖²,
 * c_uj = w where x_uj ≠ 0, else 1 (b_jj = 0 by leaving feature j out).
 */
function bruteForce(m: InteractionMatrix, lambda: number, w: number): Float64Array {
  const n = m.numItems;
  const { x } = dense(m);
  const B = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const f = [...Array(n).keys()].filter((i) => i !== j);
    const d = f.length;
    const A = new Float64Array(d * d);
    const r = new Float64Array(d);
    for (const row of x) {
      const c = row[j] !== 0 ? w : 1;
      for (let a = 0; a < d; a++) {
        if (row[f[a]] === 0) continue;
        r[a] += c * row[f[a]] * row[j];
        for (let b = 0; b < d; b++) A[a * d + b] += c * row[f[a]] * row[f[b]];
      }
    }
    for (let a = 0; a < d; a++) A[a * d + a] += lambda;
    const b = solve(A, r, d);
    f.forEach((i, a) => (B[i * n + j] = b[a]));
  }
  return B;
}

function solverFor(m: InteractionMatrix, lambda: number): EaseWeightSolver {
  const n = m.numItems;
  const { gram } = dense(m);
  for (let i = 0; i < n; i++) gram[i * n + i] += lambda;
  const columnOf = Int32Array.from({ length: n }, (_, i) => i);
  return new EaseWeightSolver(Float32Array.from(invertSmallSpd(gram, n)), n, lambda, m, columnOf);
}

describe('confidence-weighted EASE (EaseWeightSolver)', () => {
  it('Cholesky helpers solve an SPD system', () => {
    const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]);
    const l = Float64Array.from(a);
    choleskyInPlace(l, 3);
    const x = Float64Array.from([1, 2, 3]);
    choleskySolve(l, 3, x);
    for (let i = 0; i < 3; i++) expect(a[i * 3] * x[0] + a[i * 3 + 1] * x[1] + a[i * 3 + 2] * x[2]).toBeCloseTo([1, 2, 3][i], 10);
  });

  it('observedWeight 1 is EASE: B = I − P diag(1/diag P), and matches the per-column ridge regressions', () => {
    const m = tasteMatrix(3);
    const n = m.numItems;
    const solver = solverFor(m, 7);
    const B = solver.weights(1);
    const brute = bruteForce(m, 7, 1);
    for (let k = 0; k < n * n; k++) expect(B[k]).toBeCloseTo(brute[k], 4);
    for (let j = 0; j < n; j++) expect(B[j * n + j]).toBe(0);
  });

  for (const w of [2, 5, 20]) {
    it(`observedWeight ${w} matches the per-column weighted ridge regressions (zero diagonal)`, () => {
      const m = tasteMatrix(4);
      const n = m.numItems;
      const B = solverFor(m, 7).weights(w);
      const brute = bruteForce(m, 7, w);
      let maxAbs = 0;
      for (let k = 0; k < n * n; k++) maxAbs = Math.max(maxAbs, Math.abs(brute[k]));
      for (let k = 0; k < n * n; k++) expect(Math.abs(B[k] - brute[k])).toBeLessThan(1e-4 * maxAbs);
      for (let j = 0; j < n; j++) expect(B[j * n + j]).toBe(0);
      // Different from plain EASE: the weighting does change the weights.
      const ease = bruteForce(m, 7, 1);
      expect(Math.max(...Array.from(B, (v, k) => Math.abs(v - ease[k])))).toBeGreaterThan(1e-3);
    });
  }

  it('handles non-binary interaction weights and rejects observedWeight < 1', () => {
    const rng = new SeededRandom(9);
    const rows: Interaction[] = [];
    for (let u = 0; u < 50; u++) for (let i = 0; i < 8; i++) if (rng.next() < 0.35) rows.push({ user: u, item: i, weight: 1 + rng.int(5) });
    const m = InteractionMatrix.fromInteractions(rows, { itemIds: Array.from({ length: 8 }, (_, i) => String(i)) });
    const B = solverFor(m, 4).weights(3);
    const brute = bruteForce(m, 4, 3);
    for (let k = 0; k < 64; k++) expect(B[k]).toBeCloseTo(brute[k], 3);
    expect(() => solverFor(m, 4).weights(0.5)).toThrow(RangeError);
  });

  it('EaseModel with observedWeight serves the solver weights as history · B', async () => {
    const m = tasteMatrix(5);
    const model = new EaseModel({ lambda: 7, observedWeight: 5, minItemUsers: 1, precision: 'float32' });
    await model.fit(m);
    const brute = bruteForce(m, 7, 5);
    const n = m.numItems;
    const scores = model.scoreUser([{ item: 0, weight: 1 }, { item: 4, weight: 1 }]);
    for (let j = 0; j < n; j++) expect(scores[j]).toBeCloseTo(brute[0 * n + j] + brute[4 * n + j], 3);
  });

  it('EaseModel defaults are unchanged (observedWeight 1 gives the same scores as before)', async () => {
    const m = tasteMatrix(6);
    const a = new EaseModel({ lambda: 5, minItemUsers: 1 });
    const b = new EaseModel({ lambda: 5, minItemUsers: 1, observedWeight: 1 });
    await a.fit(m);
    await b.fit(m);
    expect(b.scoreUser([{ item: 1, weight: 1 }])).toEqual(a.scoreUser([{ item: 1, weight: 1 }]));
    expect(a.tuning).toBeUndefined();
  });
});

describe('validation tuning', () => {
  it('validationSplit is per user, disjoint, reproducible, ~20%, and skips users with < 5 interactions', () => {
    const m = tasteMatrix(7);
    const a = validationSplit(m, { seed: 3 });
    expect(validationSplit(m, { seed: 3 }).heldOut).toEqual(a.heldOut);
    expect(validationSplit(m, { seed: 4 }).heldOut).not.toEqual(a.heldOut);
    let held = 0;
    let eligible = 0;
    for (let u = 0; u < m.numUsers; u++) {
      if (m.rowLength(u) >= 5) eligible += m.rowLength(u);
      const train = new Set(a.train.history(u).map((e) => e.item));
      expect(a.train.rowLength(u) + a.heldOut[u].length).toBe(m.rowLength(u));
      for (const i of a.heldOut[u]) expect(train.has(i)).toBe(false);
      if (m.rowLength(u) < 5) expect(a.heldOut[u]).toEqual([]);
      else expect(a.heldOut[u].length).toBeGreaterThan(0);
      held += a.heldOut[u].length;
    }
    expect(eligible).toBeGreaterThan(0);
    expect(held / eligible).toBeGreaterThan(0.15);
    expect(held / eligible).toBeLessThan(0.3);
  });

  it('picks the (lambda, observedWeight) with the best validation NDCG, then refits on the whole matrix with it', async () => {
    const m = tasteMatrix(8, 150);
    const grid = { lambdas: [0.5, 5, 50], observedWeights: [1, 3, 10], seed: 11, k: 3 };
    const tuned = new EaseModel({ tune: grid, minItemUsers: 1 });
    const progress: string[] = [];
    await tuned.fit(m, { onProgress: (p) => progress.push(p.message ?? '') });
    const report = tuned.tuning!;
    expect(report.candidates).toHaveLength(9);

    // Every candidate's figure is reproducible from the same split, and the chosen one is the best.
    const split = validationSplit(m, { seed: 11 });
    for (const c of report.candidates) {
      const probe = new EaseModel({ lambda: c.lambda, observedWeight: c.observedWeight, minItemUsers: 1 });
      await probe.fit(split.train);
      expect(validationNdcg(split, (h) => probe.scoreUser(h), 3).ndcg).toBeCloseTo(c.ndcg, 5);
    }
    const best = Math.max(...report.candidates.map((c) => c.ndcg));
    const chosen = report.candidates.find((c) => c.lambda === report.lambda && c.observedWeight === report.observedWeight)!;
    expect(chosen.ndcg).toBe(best);
    expect(report.candidates.find((c) => c.ndcg === best)).toBe(chosen); // ties: the first one
    expect(new Set(report.candidates.map((c) => c.ndcg)).size).toBeGreaterThan(1); // the grid matters
    expect(progress.some((p) => p.includes('chose'))).toBe(true);

    // The served model is the chosen pair fitted on ALL of the matrix, not the validation fit.
    const direct = new EaseModel({ lambda: report.lambda, observedWeight: report.observedWeight, minItemUsers: 1 });
    await direct.fit(m);
    for (const h of [[0], [1, 2], [4, 10]]) {
      const history = h.map((item) => ({ item, weight: 1 }));
      expect(tuned.scoreUser(history)).toEqual(direct.scoreUser(history));
    }
    expect(tuned.fitted).toEqual({ lambda: report.lambda, observedWeight: report.observedWeight });

    // The report travels with the JSON form.
    const restored = recommenderFromJSON(JSON.parse(JSON.stringify(tuned.toJSON()))) as EaseModel;
    expect(restored.tuning).toEqual(report);
    expect((tuned.toJSON() as EaseJSON).tuning?.lambda).toBe(report.lambda);
    expect(restored.scoreUser([{ item: 3, weight: 1 }])).toEqual(tuned.scoreUser([{ item: 3, weight: 1 }]));
  });
});

import type { InteractionMatrix } from './interaction-matrix';

/**
 * Most users the observed-entry weighting ({@link EaseWeightSolver} with `observedWeight` > 1)
 * accepts: it keeps a users x users matrix (4 bytes per entry, 400 MB at this bound).
 */
export const MAX_WEIGHTED_EASE_USERS = 10_000;

/**
 * Closed-form item-item weights of EASE and of its confidence-weighted variant, from
 * P = (G + λI)⁻¹ (G = XᵀX over the learned items), in plain JavaScript.
 *
 * For each target item j, column b_j minimises
 *
 *   Σ_u c_uj (x_uj − x_u·b_j)² + λ‖b_j‖²   subject to b_jj = 0,
 *
 * with c_uj = `observedWeight` (w) where user u has item j and 1 elsewhere (weighted matrix
 * factorisation's confidence weighting, applied to EASE). w = 1 is EASE exactly:
 * B = I − P·diag(1/diag(P)). With w > 1 the unobserved entries (which include every user's not yet
 * seen but relevant items) pull the weights towards 0 less than the observed ones pull them up.
 *
 * Each column then has its own Gram matrix A_j = G + λI + (w−1)·X_Sᵀ X_S (S = users of item j),
 * solved through the Woodbury identity in user space: with K = X P Xᵀ,
 * A_j⁻¹ = P − P X_Sᵀ (I/(w−1) + K_SS)⁻¹ X_S P. So one inverse P (shared with plain EASE and with
 * every w) plus one |S| x |S| Cholesky per item: O(nnz·n + m·nnz + Σ_j |S_j|³) on top of the
 * inverse, O(m² + m·n) memory (m users, n items, nnz interactions). B keeps the serving form:
 * score = history · B.
 *
 * On MovieLens-latest-small (random 80/20, 6 seeds) w = 4..8 gained ~2% NDCG@10 on validation
 * splits carved out of the training data, but only ~0-0.7% (sometimes a loss) on the test split:
 * the gain shrinks as the training matrix gets denser.
 */
export class EaseWeightSolver {
  /** X P, m x n (row u = Σ over u's items i of x_ui · P[i, :]). */
  private xp?: Float32Array;
  /** X P Xᵀ, m x m. */
  private k?: Float32Array;
  /** Per learned item (column), the users having it (CSC of X over the learned items) and the values. */
  private colptr?: Int32Array;
  private colUsers?: Int32Array;
  private colValues?: Float32Array;

  /**
   * @param p (G + λI)⁻¹, n x n row-major (symmetric).
   * @param n Number of learned items.
   * @param lambda The λ that `p` was computed with.
   * @param matrix The training interactions.
   * @param columnOf Item index → learned column (−1 = not learned), length `matrix.numItems`.
   */
  constructor(
    private readonly p: Float32Array,
    private readonly n: number,
    private readonly lambda: number,
    private readonly matrix: InteractionMatrix,
    private readonly columnOf: Int32Array,
  ) {
    if (p.length !== n * n) throw new RangeError('p must be n x n');
  }

  /**
   * The n x n weights (row = source, column = target, zero diagonal) for `observedWeight` w >= 1.
   * Returns a new array; the solver can be asked again for another w.
   */
  weights(observedWeight = 1): Float32Array {
    const { n, p } = this;
    if (!(observedWeight >= 1) || !Number.isFinite(observedWeight)) throw new RangeError(`observedWeight must be a finite number >= 1, got ${observedWeight}`);
    const B = new Float32Array(n * n);
    if (observedWeight === 1) {
      // B[r, c] = −P[r, c] / P[c, c], zero diagonal (EASE).
      const diag = Float64Array.from({ length: n }, (_, c) => p[c * n + c]);
      for (let r = 0; r < n; r++) {
        const base = r * n;
        for (let c = 0; c < n; c++) B[base + c] = r === c ? 0 : -p[base + c] / diag[c];
      }
      return B;
    }
    this.prepare();
    const m = this.matrix.numUsers;
    const xp = this.xp!;
    const K = this.k!;
    const colptr = this.colptr!;
    const colUsers = this.colUsers!;
    const colValues = this.colValues!;
    const alpha = observedWeight - 1;
    const lambda = this.lambda;
    const y1 = new Float64Array(n);
    const y2 = new Float64Array(n);
    let chol = new Float64Array(0);
    let z1 = new Float64Array(0);
    let z2 = new Float64Array(0);
    for (let j = 0; j < n; j++) {
      const s0 = colptr[j];
      const d = colptr[j + 1] - s0;
      // y1 = A_j⁻¹ g_j and y2 = A_j⁻¹ e_j, starting from P g_j = e_j − λ P e_j and P e_j.
      const pj = j * n; // P symmetric: column j = row j
      for (let r = 0; r < n; r++) {
        y2[r] = p[pj + r];
        y1[r] = -lambda * y2[r];
      }
      y1[j] += 1;
      if (d > 0) {
        if (chol.length < d * d) {
          chol = new Float64Array(d * d);
          z1 = new Float64Array(d);
          z2 = new Float64Array(d);
        }
        // chol = I/α + K_SS; rhs: (X P g_j)_S = x_Sj − λ (XP)_Sj and (X P e_j)_S = (XP)_Sj.
        for (let a = 0; a < d; a++) {
          const ua = colUsers[s0 + a];
          for (let b = 0; b <= a; b++) chol[a * d + b] = K[ua * m + colUsers[s0 + b]];
          chol[a * d + a] += 1 / alpha;
          const xpa = xp[ua * n + j];
          z1[a] = colValues[s0 + a] - lambda * xpa;
          z2[a] = xpa;
        }
        choleskyInPlace(chol, d);
        choleskySolve(chol, d, z1);
        choleskySolve(chol, d, z2);
        // y −= (X_S P)ᵀ z
        for (let a = 0; a < d; a++) {
          const row = colUsers[s0 + a] * n;
          const za = z1[a];
          const zb = z2[a];
          for (let r = 0; r < n; r++) {
            const v = xp[row + r];
            y1[r] -= v * za;
            y2[r] -= v * zb;
          }
        }
      }
      // Lagrange multiplier of b_jj = 0; the (1 + α) factor is the weight of the observed targets.
      const mu = y1[j] / y2[j];
      for (let r = 0; r < n; r++) B[r * n + j] = r === j ? 0 : observedWeight * (y1[r] - mu * y2[r]);
    }
    return B;
  }

  /** X P, X P Xᵀ and the CSC view of X over the learned items (once, shared by every w). */
  private prepare(): void {
    if (this.xp) return;
    const { n, p, matrix, columnOf } = this;
    const m = matrix.numUsers;
    if (m > MAX_WEIGHTED_EASE_USERS) {
      throw new RangeError(`observedWeight > 1 supports at most ${MAX_WEIGHTED_EASE_USERS} users (it keeps a users x users matrix); got ${m}`);
    }
    const xp = new Float32Array(m * n);
    const acc = new Float64Array(n);
    const counts = new Int32Array(n + 1);
    for (let u = 0; u < m; u++) {
      acc.fill(0);
      for (let q = matrix.indptr[u]; q < matrix.indptr[u + 1]; q++) {
        const c = columnOf[matrix.indices[q]];
        if (c < 0) continue;
        counts[c + 1]++;
        const w = matrix.values[q];
        const base = c * n;
        for (let r = 0; r < n; r++) acc[r] += w * p[base + r];
      }
      xp.set(acc, u * n);
    }
    // K[u, v] = Σ over v's learned items i of x_vi · XP[u, i]
    const K = new Float32Array(m * m);
    for (let v = 0; v < m; v++) {
      for (let u = 0; u <= v; u++) {
        let s = 0;
        const base = u * n;
        for (let q = matrix.indptr[v]; q < matrix.indptr[v + 1]; q++) {
          const c = columnOf[matrix.indices[q]];
          if (c >= 0) s += matrix.values[q] * xp[base + c];
        }
        K[u * m + v] = s;
        K[v * m + u] = s;
      }
    }
    for (let c = 0; c < n; c++) counts[c + 1] += counts[c];
    const colUsers = new Int32Array(counts[n]);
    const colValues = new Float32Array(counts[n]);
    const next = counts.slice(0, n);
    for (let u = 0; u < m; u++) {
      for (let q = matrix.indptr[u]; q < matrix.indptr[u + 1]; q++) {
        const c = columnOf[matrix.indices[q]];
        if (c < 0) continue;
        colUsers[next[c]] = u;
        colValues[next[c]++] = matrix.values[q];
      }
    }
    this.xp = xp;
    this.k = K;
    this.colptr = counts;
    this.colUsers = colUsers;
    this.colValues = colValues;
  }
}

/** In-place Cholesky A = L Lᵀ of a d x d SPD matrix (lower triangle read and written, row-major). */
export function choleskyInPlace(a: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    let s = a[rj + j];
    for (let k = 0; k < j; k++) s -= a[rj + k] * a[rj + k];
    if (!(s > 0)) throw new RangeError('matrix is not positive definite');
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      const ri = i * d;
      let t = a[ri + j];
      for (let k = 0; k < j; k++) t -= a[ri + k] * a[rj + k];
      a[ri + j] = t / ljj;
    }
  }
}

/** Solves L Lᵀ x = b in place (`l` from {@link choleskyInPlace}). */
export function choleskySolve(l: Float64Array, d: number, b: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = b[i];
    const ri = i * d;
    for (let k = 0; k < i; k++) s -= l[ri + k] * b[k];
    b[i] = s / l[ri + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * b[k];
    b[i] = s / l[i * d + i];
  }
}

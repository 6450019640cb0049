import type { Tf } from './tensorflow';

type Tensor2D = ReturnType<Tf['tensor2d']>;

/** Inverts a small dense symmetric positive definite matrix (row-major, float64) by Gauss-Jordan. */
export function invertSmallSpd(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    const pivot = m[rk + k];
    if (!(pivot > 0)) throw new RangeError('matrix is not positive definite');
    const inv = 1 / pivot;
    for (let j = 0; j < n; j++) m[rk + j] *= inv;
    m[rk + k] = inv;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const ri = i * n;
      const f = m[ri + k];
      if (f === 0) continue;
      m[ri + k] = 0;
      for (let j = 0; j < n; j++) m[ri + j] -= f * m[rk + j];
    }
  }
  return m;
}

/**
 * Inverts a symmetric positive definite matrix with blocked Gauss-Jordan on the active tfjs
 * backend: each step is one `n x b` by `b x n` matMul (2n^3 flops in all), so the wasm backend's
 * XNNPACK kernels do the work. No pivoting (not needed for SPD input). Disposes nothing it was given.
 */
export function invertSpd(tf: Tf, a: Tensor2D, blockSize = 256): Tensor2D {
  const n = a.shape[0];
  if (a.shape[1] !== n) throw new RangeError('matrix must be square');
  let A: Tensor2D = tf.keep(a.clone());
  for (let k = 0; k < n; k += blockSize) {
    const b = Math.min(blockSize, n - k);
    const next = tf.tidy(() => {
      const rowK = tf.slice(A, [k, 0], [b, n]);
      const colK = tf.slice(A, [0, k], [n, b]);
      const pk = tf.tensor2d(Float32Array.from(invertSmallSpd(tf.slice(rowK, [0, k], [b, b]).dataSync(), b)), [b, b]);
      const eye = tf.eye(b);
      // R = P_K [A_K,<K | I | A_K,>K];  L = [-A_<K,K ; I ; -A_>K,K];  A' = A with block row/col K zeroed + L R
      const rowParts: Tensor2D[] = [];
      const colParts: Tensor2D[] = [];
      if (k > 0) {
        rowParts.push(tf.slice(rowK, [0, 0], [b, k]));
        colParts.push(tf.neg(tf.slice(colK, [0, 0], [k, b])));
      }
      rowParts.push(eye);
      colParts.push(eye);
      if (k + b < n) {
        rowParts.push(tf.slice(rowK, [0, k + b], [b, n - k - b]));
        colParts.push(tf.neg(tf.slice(colK, [k + b, 0], [n - k - b, b])));
      }
      const R = tf.matMul(pk, rowParts.length > 1 ? tf.concat(rowParts, 1) : eye);
      const L = colParts.length > 1 ? tf.concat(colParts, 0) : eye;
      const keepMask = new Float32Array(n).fill(1).fill(0, k, k + b);
      const mask = tf.tensor1d(keepMask);
      const masked = tf.mul(tf.mul(A, tf.reshape(mask, [n, 1])), tf.reshape(mask, [1, n]));
      return tf.add(masked, tf.matMul(L, R)) as Tensor2D;
    });
    A.dispose();
    A = next;
  }
  return A;
}

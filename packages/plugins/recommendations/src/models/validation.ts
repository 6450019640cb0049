import { InteractionMatrix } from './interaction-matrix';
import type { HistoryEntry } from './model.types';
import { topK } from './ranking';
import { SeededRandom } from './seeded-random';

/** A training matrix with, per user, held-out item indices to validate on. */
export interface ValidationSplit {
  /** The input matrix without the held-out entries (same user and item indices). */
  train: InteractionMatrix;
  /** `heldOut[u]` = validation items of user u (empty: user not validated). */
  heldOut: number[][];
}

/**
 * Seeded per-user hold-out for hyperparameter tuning, carved out of a TRAINING matrix: each user
 * with at least `minInteractions` (default 5) entries keeps a random `fraction` (default 0.2, at
 * least one, never all) for validation. Same rule as the evaluation's random 80/20 split, so a
 * model tuned here is tuned for that protocol without ever seeing its test part.
 */
export function validationSplit(matrix: InteractionMatrix, opts: { fraction?: number; seed?: number; minInteractions?: number } = {}): ValidationSplit {
  const fraction = opts.fraction ?? 0.2;
  const min = Math.max(2, opts.minInteractions ?? 5);
  // Decorrelated from a protocol split drawn with the same seed.
  const rng = new SeededRandom(((opts.seed ?? 42) ^ 0x5bd1e995) >>> 0);
  const lists: Array<Array<{ item: number; weight: number; timestamp?: number }>> = [];
  const heldOut: number[][] = [];
  for (let u = 0; u < matrix.numUsers; u++) {
    const entries = [];
    for (let q = matrix.indptr[u]; q < matrix.indptr[u + 1]; q++) {
      entries.push({ item: matrix.indices[q], weight: matrix.values[q], timestamp: matrix.timestamps?.[q] });
    }
    if (entries.length < min) {
      lists.push(entries);
      heldOut.push([]);
      continue;
    }
    const order = rng.shuffle(entries.map((_, i) => i));
    const nOut = Math.min(entries.length - 1, Math.max(1, Math.round(fraction * entries.length)));
    const out = new Set(order.slice(0, nOut));
    lists.push(entries.filter((_, i) => !out.has(i)));
    heldOut.push(entries.filter((_, i) => out.has(i)).map((e) => e.item).sort((a, b) => a - b));
  }
  return { train: InteractionMatrix.fromUserLists(matrix.userIds, matrix.itemIds, lists, matrix.timestamps !== undefined), heldOut };
}

/**
 * Mean NDCG@k (binary relevance, ideal = min(k, |held out|) hits on top) over the validated users
 * of `split`, ranking every item outside the user's training history by `score(history)`.
 */
export function validationNdcg(split: ValidationSplit, score: (history: readonly HistoryEntry[]) => ArrayLike<number>, k = 10): { ndcg: number; users: number } {
  let sum = 0;
  let users = 0;
  for (let u = 0; u < split.heldOut.length; u++) {
    const relevant = split.heldOut[u];
    if (relevant.length === 0) continue;
    const history = split.train.history(u);
    const ranked = topK(score(history), k, history.map((h) => h.item));
    const set = new Set(relevant);
    let dcg = 0;
    ranked.forEach((item, r) => {
      if (set.has(item)) dcg += 1 / Math.log2(r + 2);
    });
    let idcg = 0;
    for (let r = 0; r < Math.min(k, relevant.length); r++) idcg += 1 / Math.log2(r + 2);
    sum += dcg / idcg;
    users++;
  }
  return { ndcg: users > 0 ? sum / users : 0, users };
}

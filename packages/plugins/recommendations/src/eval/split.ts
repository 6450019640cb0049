import { InteractionMatrix } from '../models/interaction-matrix';
import { SeededRandom } from '../models/seeded-random';

/** Train matrix (same user/item indices as the input) and each user's held-out item indices. */
export interface HoldoutSplit {
  train: InteractionMatrix;
  /** `test[u]` = held-out items of user u; empty for users not evaluated. */
  test: number[][];
}

type Entry = { item: number; weight: number; timestamp?: number };

function rows(m: InteractionMatrix, u: number): Entry[] {
  const out: Entry[] = [];
  for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) {
    out.push({ item: m.indices[p], weight: m.values[p], timestamp: m.timestamps?.[p] });
  }
  return out;
}

/**
 * Splits each user's interactions with `holdOut` (given the user's entries, at least `min` of
 * them, and the seeded generator; returns the indexes to test on). Users with fewer than `min`
 * interactions stay entirely in training and are not evaluated.
 */
function splitPerUser(m: InteractionMatrix, min: number, seed: number, holdOut: (all: Entry[], rng: SeededRandom) => number[]): HoldoutSplit {
  const rng = new SeededRandom(seed);
  const trainLists: Entry[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < m.numUsers; u++) {
    const all = rows(m, u);
    const picked = all.length < min ? new Set<number>() : new Set(holdOut(all, rng));
    test.push(all.filter((_, i) => picked.has(i)).map((e) => e.item).sort((a, b) => a - b));
    trainLists.push(all.filter((_, i) => !picked.has(i)));
  }
  return { train: InteractionMatrix.fromUserLists(m.userIds, m.itemIds, trainLists), test };
}

/**
 * Seeded random per-user hold-out: each user with at least `minInteractions` interactions keeps a
 * random `testFraction` (at least one) for testing; users with fewer stay entirely in training and
 * are not evaluated.
 */
export function randomHoldout(
  m: InteractionMatrix,
  opts: { testFraction?: number; seed?: number; minInteractions?: number } = {},
): HoldoutSplit {
  const fraction = opts.testFraction ?? 0.2;
  return splitPerUser(m, Math.max(2, opts.minInteractions ?? 5), opts.seed ?? 42, (all, rng) => {
    const order = all.map((_, i) => i);
    rng.shuffle(order);
    const nTest = Math.min(all.length - 1, Math.max(1, Math.round(fraction * all.length)));
    return order.slice(0, nTest);
  });
}

/**
 * Leave-last-out: each user with at least `minInteractions` interactions (default 2) holds out the
 * most recent one by timestamp; ties (MovieLens stores many ratings per second) are broken by the
 * seeded generator.
 */
export function leaveLastOut(m: InteractionMatrix, opts: { seed?: number; minInteractions?: number } = {}): HoldoutSplit {
  if (!m.timestamps) throw new Error('leave-last-out needs timestamps');
  return splitPerUser(m, Math.max(2, opts.minInteractions ?? 2), opts.seed ?? 42, (all, rng) => {
    let latest = Number.NEGATIVE_INFINITY;
    for (const e of all) if (e.timestamp! > latest) latest = e.timestamp!;
    const tied = all.map((_, i) => i).filter((i) => all[i].timestamp === latest);
    return [tied.length > 0 ? tied[rng.int(tied.length)] : all.length - 1];
  });
}

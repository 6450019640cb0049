import { EaseModel } from '../models/ease.model';
import { EASE_TIME_OPTIONS } from '../models/time-kernel';
import type { InteractionMatrix } from '../models/interaction-matrix';
import { ItemKnnModel } from '../models/item-knn.model';
import type { FitProgress, Recommender } from '../models/model.types';
import { MultDaeModel } from '../models/mult-dae.model';
import { PopularityModel } from '../models/popularity.model';
import { topK } from '../models/ranking';
import { hitRateAtK, ndcgAtK, precisionAtK, recallAtK } from './metrics';
import { leaveLastOut, randomHoldout, type HoldoutSplit } from './split';

/** Mean metrics over the evaluated users (those with held-out items). */
export interface RankingReport {
  users: number;
  precision: number;
  recall: number;
  ndcg: number;
  hitRate: number;
}

/**
 * Ranks, for every user with held-out items, all items absent from the user's training history
 * (scored from that history) and averages Precision/Recall/NDCG/HitRate@k.
 */
export function evaluateRanking(model: Recommender, split: HoldoutSplit, k = 10): RankingReport {
  const sum = { users: 0, precision: 0, recall: 0, ndcg: 0, hitRate: 0 };
  for (let u = 0; u < split.test.length; u++) {
    if (split.test[u].length === 0) continue;
    const history = split.train.history(u);
    const ranked = topK(model.scoreUser(history), k, history.map((h) => h.item));
    const relevant = new Set(split.test[u]);
    sum.users++;
    sum.precision += precisionAtK(ranked, relevant, k);
    sum.recall += recallAtK(ranked, relevant, k);
    sum.ndcg += ndcgAtK(ranked, relevant, k);
    sum.hitRate += hitRateAtK(ranked, relevant, k);
  }
  const d = Math.max(1, sum.users);
  return { users: sum.users, precision: sum.precision / d, recall: sum.recall / d, ndcg: sum.ndcg / d, hitRate: sum.hitRate / d };
}

/** A model under evaluation: a fresh instance per protocol. */
export interface ModelSpec {
  name: string;
  create(): Recommender;
}

/** Figures of one model under both protocols. */
export interface ModelResult {
  model: string;
  random: { precision: number; recall: number; ndcg: number; users: number };
  leaveLastOut: { hitRate: number; ndcg: number; users: number };
  trainSeconds: { random: number; leaveLastOut: number };
}

/** The models compared by the evaluation CLI, with their default hyperparameters. */
export function defaultModelSpecs(seed = 42): ModelSpec[] {
  return [
    { name: 'most-popular', create: () => new PopularityModel() },
    { name: 'item-knn', create: () => new ItemKnnModel() },
    { name: 'ease', create: () => new EaseModel() },
    // Confidence-weighted EASE, lambda and observedWeight chosen on a validation split carved out of
    // each training matrix (never the test part); one item-item matrix like 'ease'.
    { name: 'ease-tuned', create: () => new EaseModel({ tune: { seed } }) },
    // EASE on a Gram matrix with time-kernel co-occurrence (items one user took close together in time
    // weigh more); tau, weight and lambda were chosen on validation splits carved out of seed 42's
    // training part only (see src/models/time-kernel.ts). One item-item matrix, served like 'ease'.
    { name: 'ease-time', create: () => new EaseModel(EASE_TIME_OPTIONS) },
    { name: 'mult-dae', create: () => new MultDaeModel({ seed }) },
  ];
}

async function timedFit(model: Recommender, train: InteractionMatrix, onProgress?: (p: FitProgress) => void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await model.fit(train, { onProgress });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Runs both protocols for every model: (a) seeded random 80/20 per-user split, P/R/NDCG@k;
 * (b) leave-last-out by timestamp, HR/NDCG@k. Each model is trained once per protocol.
 */
export async function runEvaluation(
  matrix: InteractionMatrix,
  specs: readonly ModelSpec[],
  opts: { seed?: number; k?: number; onProgress?: (p: FitProgress) => void } = {},
): Promise<ModelResult[]> {
  const k = opts.k ?? 10;
  const random = randomHoldout(matrix, { seed: opts.seed ?? 42 });
  const llo = leaveLastOut(matrix, { seed: opts.seed ?? 42 });
  const results: ModelResult[] = [];
  for (const spec of specs) {
    opts.onProgress?.({ model: spec.name, message: 'random 80/20: training' });
    const a = spec.create();
    const ta = await timedFit(a, random.train, opts.onProgress);
    const ra = evaluateRanking(a, random, k);
    opts.onProgress?.({ model: spec.name, message: 'leave-last-out: training' });
    const b = spec.create();
    const tb = await timedFit(b, llo.train, opts.onProgress);
    const rb = evaluateRanking(b, llo, k);
    results.push({
      model: spec.name,
      random: { precision: ra.precision, recall: ra.recall, ndcg: ra.ndcg, users: ra.users },
      leaveLastOut: { hitRate: rb.hitRate, ndcg: rb.ndcg, users: rb.users },
      trainSeconds: { random: ta, leaveLastOut: tb },
    });
  }
  return results;
}

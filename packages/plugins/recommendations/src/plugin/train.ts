import type { PluginConsent, PluginNotify, SqlRunner } from '@rapport/core';
import { EaseModel, InteractionMatrix, PopularityModel, type EaseOptions } from '../models';
import { encodePayload, MODEL_NAME } from './model-store';
import { TOPICS } from './channels';
import { completeSql, PURPOSE, type RequiredField } from './store';

/** What a training run reports (`rapport train recommendations` prints it as JSON). */
export interface TrainSummary {
  model: string;
  /** Null when there was nothing to train on (no version stored). */
  version: number | null;
  id: string | null;
  users: number;
  items: number;
  interactions: number;
  learnedItems: number;
  payloadBytes: number;
  seconds: number;
}

/** The training data, in columns (cheap to hand to a worker thread). */
export interface TrainInput {
  users: string[];
  items: string[];
  weights: Float64Array;
  /** Epoch ms of each interaction's last occurrence. */
  times: Float64Array;
  /** Category of each item that has one. */
  categories: Record<string, string>;
  ease: EaseOptions;
}

/** A fitted model, encoded for `rec_model`. */
export interface FitResult {
  payload: Uint8Array;
  users: number;
  items: number;
  interactions: number;
  learnedItems: number;
}

/** Fits EASE and popularity on `input` and encodes them: pure computation, no database. */
export async function fitModels(input: TrainInput, onProgress: (message: string) => void = () => undefined): Promise<FitResult> {
  const matrix = InteractionMatrix.fromInteractions(
    input.users.map((user, k) => ({ user, item: input.items[k], weight: input.weights[k], timestamp: input.times[k] })),
  );
  const ease = new EaseModel(input.ease);
  await ease.fit(matrix, { onProgress: (p) => onProgress(`${p.model}: ${p.message ?? ''}`) });
  const popularity = new PopularityModel({ itemCategories: matrix.itemIds.map((id) => (input.categories[id] ? [input.categories[id]] : undefined)) });
  await popularity.fit(matrix);
  // The items EASE keeps in its item-item matrix (they have learned neighbours).
  const learned = Array.from(ease.learnedItems(matrix.itemUserCounts()).items, (i) => matrix.itemIds[i]);
  onProgress(`fitted: ${learned.length} items with learned neighbours`);
  const payload = encodePayload({ format: 2, ease: ease.toJSON(), popularity: popularity.toJSON(), learned });
  return { payload, users: matrix.numUsers, items: matrix.numItems, interactions: matrix.nnz, learnedItems: learned.length };
}

/** What training needs of the plugin's context. */
export interface TrainContext {
  db: SqlRunner;
  consent: PluginConsent;
  notify: PluginNotify;
}

/**
 * Reads the interactions of profiles whose consent allows personalization from `rec_interaction`,
 * fits EASE and popularity (through `fit`: in this thread, or a worker thread's), stores a new
 * version in `rec_model`, keeping the newest `keep`, and tells the other servers, which load it at
 * once (or at their next poll).
 */
export async function trainRecommendations(
  ctx: TrainContext,
  opts: { ease: EaseOptions; keep: number; requireFields?: readonly RequiredField[] },
  onProgress: (message: string) => void = () => undefined,
  fit: (input: TrainInput, onProgress: (message: string) => void) => Promise<FitResult> = fitModels,
): Promise<TrainSummary> {
  const t0 = performance.now();
  const startedAt = new Date();
  const rows = await ctx.db.query<{ profile_id: string; item_id: string; weight: number; last_at: Date }>(
    `SELECT i.profile_id, i.item_id, i.weight, i.last_at FROM rec_interaction i
      WHERE ${ctx.consent.sql('i.profile_id', PURPOSE)} AND ${candidateSql(opts.requireFields)} ORDER BY i.profile_id, i.item_id`,
  );
  const input: TrainInput = {
    users: rows.map((r) => r.profile_id),
    items: rows.map((r) => r.item_id),
    weights: Float64Array.from(rows, (r) => Number(r.weight)),
    times: Float64Array.from(rows, (r) => r.last_at.getTime()),
    categories: {},
    ease: opts.ease,
  };
  const itemIds = [...new Set(input.items)];
  onProgress(`${rows.length} interactions of consenting profiles over ${itemIds.length} items`);
  if (!rows.length) {
    onProgress('nothing to train on: no interactions of profiles that granted personalization');
    return { model: MODEL_NAME, users: 0, items: 0, interactions: 0, version: null, id: null, learnedItems: 0, payloadBytes: 0, seconds: (performance.now() - t0) / 1000 };
  }
  for (const r of await ctx.db.query<{ id: string; category: string | null }>('SELECT id, category FROM rec_item WHERE id = ANY($1::text[]) AND category IS NOT NULL', [itemIds])) {
    input.categories[r.id] = r.category!;
  }
  const fitted = await fit(input, onProgress);
  const payload = Buffer.from(fitted.payload.buffer, fitted.payload.byteOffset, fitted.payload.byteLength);
  const base = { model: MODEL_NAME, users: fitted.users, items: fitted.items, interactions: fitted.interactions };
  const seconds = (performance.now() - t0) / 1000;
  const metrics = { ...base, learnedItems: fitted.learnedItems, seconds, startedAt: startedAt.toISOString(), options: opts.ease };
  const [stored] = await ctx.db.query<{ id: string; version: number }>(
    `INSERT INTO rec_model (name, version, payload, metrics)
     VALUES ($1, COALESCE((SELECT max(version) FROM rec_model WHERE name = $1), 0) + 1, $2, $3) RETURNING id, version`,
    [MODEL_NAME, payload, JSON.stringify(metrics)],
  );
  await ctx.notify.publish(TOPICS.model, String(stored.id)); // the other servers load it now
  await ctx.db.query('DELETE FROM rec_model WHERE name = $1 AND id NOT IN (SELECT id FROM rec_model WHERE name = $1 ORDER BY id DESC LIMIT $2)', [MODEL_NAME, opts.keep]);
  onProgress(`stored version ${stored.version} (${payload.length} bytes)`);
  return { ...base, version: stored.version, id: String(stored.id), learnedItems: fitted.learnedItems, payloadBytes: payload.length, seconds };
}

/**
 * SQL condition on `rec_interaction i`: its item may be recommended (has every required field), so
 * items the catalog has not named are neither trained on nor counted towards the first training.
 */
function candidateSql(required: readonly RequiredField[] = []): string {
  return required.length ? `EXISTS (SELECT 1 FROM rec_item t WHERE t.id = i.item_id AND ${completeSql(required, 't')})` : 'TRUE';
}

/** How much data training would have now, against the first-training threshold. */
export interface TrainingReadiness {
  /** Interactions of profiles that grant personalization, on items that may be recommended. */
  interactions: number;
  /** Such items with at least `minItemUsers` such profiles (the items that get learned neighbours). */
  items: number;
  /** True when both reach the threshold. */
  ready: boolean;
}

/** Counts what the first training waits for, in one statement. */
export async function trainingReadiness(
  ctx: TrainContext,
  opts: { minItemUsers: number; requireFields: readonly RequiredField[]; threshold: { interactions: number; items: number } },
): Promise<TrainingReadiness> {
  const [r] = await ctx.db.query<{ interactions: number; items: number }>(
    `WITH c AS (SELECT i.item_id FROM rec_interaction i WHERE ${ctx.consent.sql('i.profile_id', PURPOSE)} AND ${candidateSql(opts.requireFields)})
     SELECT (SELECT count(*) FROM c)::int AS interactions,
            (SELECT count(*) FROM (SELECT item_id FROM c GROUP BY item_id HAVING count(*) >= $1) x)::int AS items`,
    [opts.minItemUsers],
  );
  return { ...r, ready: r.interactions >= opts.threshold.interactions && r.items >= opts.threshold.items };
}

import type { Queryable } from '@rapport/core';
import { EaseModel, InteractionMatrix, PopularityModel, type EaseOptions } from '../models';
import { encodePayload, MODEL_NAME } from './model-store';
import { CHANNELS } from './channels';
import { CONSENTED } from './store';

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

/**
 * Builds the interaction matrix from `rec_interaction` (profiles that granted personalization
 * only), fits EASE and popularity, and stores a new version in `rec_model` (gzip JSON), keeping the
 * newest `keep` versions, and notifies the servers, which load it at once (or at their next poll).
 */
export async function trainRecommendations(
  db: Queryable,
  opts: { ease: EaseOptions; keep: number },
  onProgress: (message: string) => void = () => undefined,
): Promise<TrainSummary> {
  const t0 = performance.now();
  const startedAt = new Date();
  const rows = await db.query<{ profile_id: string; item_id: string; weight: number; last_at: Date }>(
    `SELECT i.profile_id, i.item_id, i.weight, i.last_at FROM rec_interaction i WHERE ${CONSENTED('i')} ORDER BY i.profile_id, i.item_id`,
  );
  const matrix = InteractionMatrix.fromInteractions(rows.map((r) => ({ user: r.profile_id, item: r.item_id, weight: Number(r.weight), timestamp: r.last_at.getTime() })));
  onProgress(`${rows.length} interactions of ${matrix.numUsers} consenting profiles over ${matrix.numItems} items`);
  const base = { model: MODEL_NAME, users: matrix.numUsers, items: matrix.numItems, interactions: matrix.nnz };
  if (matrix.nnz === 0) {
    onProgress('nothing to train on: no interactions of profiles that granted personalization');
    return { ...base, version: null, id: null, learnedItems: 0, payloadBytes: 0, seconds: (performance.now() - t0) / 1000 };
  }
  const cats = new Map(
    (await db.query<{ id: string; category: string | null }>('SELECT id, category FROM rec_item WHERE id = ANY($1::text[])', [matrix.itemIds])).map((r) => [r.id, r.category]),
  );
  const ease = new EaseModel(opts.ease);
  await ease.fit(matrix, { onProgress: (p) => onProgress(`${p.model}: ${p.message ?? ''}`) });
  const popularity = new PopularityModel({ itemCategories: matrix.itemIds.map((id) => (cats.get(id) ? [cats.get(id)!] : undefined)) });
  await popularity.fit(matrix);
  // The items EASE keeps in its item-item matrix (they have learned neighbours).
  const learned = Array.from(ease.learnedItems(matrix.itemUserCounts()).items, (i) => matrix.itemIds[i]);
  onProgress(`fitted: ${learned.length} items with learned neighbours; storing`);
  const payload = encodePayload({ format: 2, ease: ease.toJSON(), popularity: popularity.toJSON(), learned });
  const seconds = (performance.now() - t0) / 1000;
  const metrics = { ...base, learnedItems: learned.length, seconds, startedAt: startedAt.toISOString(), options: opts.ease };
  const [stored] = await db.query<{ id: string; version: number }>(
    `INSERT INTO rec_model (name, version, payload, metrics)
     VALUES ($1, COALESCE((SELECT max(version) FROM rec_model WHERE name = $1), 0) + 1, $2, $3) RETURNING id, version`,
    [MODEL_NAME, payload, JSON.stringify(metrics)],
  );
  await db.query('SELECT pg_notify($1, $2)', [CHANNELS.model, String(stored.id)]); // servers load it now
  await db.query('DELETE FROM rec_model WHERE name = $1 AND id NOT IN (SELECT id FROM rec_model WHERE name = $1 ORDER BY id DESC LIMIT $2)', [MODEL_NAME, opts.keep]);
  onProgress(`stored version ${stored.version} (${payload.length} bytes)`);
  return { ...base, version: stored.version, id: String(stored.id), learnedItems: learned.length, payloadBytes: payload.length, seconds };
}

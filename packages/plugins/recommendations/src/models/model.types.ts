import type { InteractionMatrix } from './interaction-matrix';

/** One interaction of the user being scored: dense item index and weight (e.g. 1 per view). */
export interface HistoryEntry {
  item: number;
  weight: number;
}

/** Why an item was recommended. `becauseItem` is a dense item index; the plugin maps it to a title. */
export interface Explanation {
  reason: string;
  becauseItem?: number;
}

/** Progress callback payload of {@link Recommender.fit}. */
export interface FitProgress {
  model: string;
  epoch?: number;
  loss?: number;
  message?: string;
}

/** Options every `fit` accepts. */
export interface FitOptions {
  onProgress?: (p: FitProgress) => void;
}

/**
 * Common contract of the recommendation models.
 *
 * Models score from the user's CURRENT history, passed at scoring time, so a new interaction
 * changes the next recommendation without retraining. Scores are only comparable within one call;
 * callers exclude items already in the history themselves (see `topK`).
 */
export interface Recommender {
  /** Stable model type name, also the `type` of its JSON form. */
  readonly name: string;
  /** Trains on the interaction matrix (users x items). */
  fit(matrix: InteractionMatrix, opts?: FitOptions): Promise<void>;
  /** One score per item (length = number of items at fit time); higher is better. */
  scoreUser(history: readonly HistoryEntry[]): Float32Array;
  /** Human-readable reason for recommending `item` given `history`. */
  explain?(history: readonly HistoryEntry[], item: number): Explanation;
  /** JSON-serialisable form (for a PostgreSQL `jsonb` column); restore with `recommenderFromJSON`. */
  toJSON(): SerializedModel;
}

/** Envelope of every serialised model. */
export interface SerializedModel {
  type: string;
  version: number;
  itemIds: string[];
  [key: string]: unknown;
}

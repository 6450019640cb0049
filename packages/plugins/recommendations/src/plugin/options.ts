import { EASE_TIME_OPTIONS, EaseModel, type EaseOptions } from '../models';
import type { RequiredField } from './store';

/** Options of {@link recommendationsPlugin}. */
export interface RecommendationsOptions {
  /**
   * Interaction weight per Segment event name; events not listed are ignored. Merged over the
   * defaults `{ 'Product Viewed': 1, 'Product Added': 3, 'Order Completed': 5 }` (set one to 0 to ignore it).
   */
  weights?: Record<string, number>;
  /** Create catalog items from the products events name (default true); false ignores unknown ids. */
  createItemsFromEvents?: boolean;
  /**
   * Fields an item must have before it is recommended anywhere (profile recommendations, similar
   * items, popularity, attribute picks): default `['title']`, so an id an event named (a typo, a
   * test environment, a bot) is never shown as an empty card until the catalog names it. `[]`
   * recommends every available item. `items(filter: { incomplete: true })` lists the items that lack one.
   */
  requireFields?: RequiredField[];
  /** How often each server checks for a newer trained model, in ms (default 10 000; 0 = only at start). */
  pollMs?: number;
  /**
   * Age in ms after which the in-memory catalog and trending counts are refreshed in the
   * background (default 10 000). 0 refreshes before every request (tests, tiny catalogs).
   */
  refreshMs?: number;
  /**
   * Profiles whose interactions each server keeps in memory between requests (default 10 000; 0 =
   * read them from PostgreSQL on every request). Writes drop a profile at once in the writing
   * process and, through PostgreSQL notifications, within milliseconds in the others.
   */
  historyCache?: number;
  /** Window of "popular this week", in days (default 7). */
  trendingDays?: number;
  /**
   * EASE hyperparameters for training, merged over the default: EASE with the time kernel as
   * measured (lambda 500, timeKernel { tauSeconds: 150, weight: 4 }, minItemUsers 5; the
   * evaluation's `ease-time`). `timeKernel: false` (best with lambda 200) is plain EASE; with
   * `observedWeight` > 1 or `tune` the default is plain EASE, lambda 200. See EaseOptions.
   */
  ease?: EaseOptions;
  /** Stored model versions to keep (default 3). */
  keepVersions?: number;
  /**
   * Train on a schedule, every this many ms (at least 1,000): a cluster-wide job, so with any
   * number of servers it runs once per period, fitting in a worker thread of the server that runs
   * it (off the request path). Default 6 hours; `0` turns scheduled training off (then run
   * `rapport train recommendations` yourself).
   */
  trainEvery?: number;
  /**
   * The first model is trained as soon as the consenting interactions reach this size, checked every
   * `firstTrainingCheckMs` while no model is stored (default `{ interactions: 500, items: 20 }`:
   * 500 interactions of profiles that granted personalization, and 20 items with at least
   * `ease.minItemUsers` such profiles each, i.e. items that get learned neighbours).
   */
  firstTraining?: { interactions?: number; items?: number };
  /** How often, in ms, servers check whether the first model can be trained (default 60 000; at least 1,000). */
  firstTrainingCheckMs?: number;
  /**
   * Count the events stored before the plugin was installed (default true): its delivery starts at
   * the start of history, so a shop adding the plugin gets recommendations from its past orders.
   * Read once, when the plugin's delivery cursor is created.
   */
  fromHistory?: boolean;
}

export const DEFAULT_WEIGHTS: Record<string, number> = { 'Product Viewed': 1, 'Product Added': 3, 'Order Completed': 5 };

export interface ResolvedOptions {
  weights: Record<string, number>;
  createItemsFromEvents: boolean;
  requireFields: RequiredField[];
  pollMs: number;
  refreshMs: number;
  trendingDays: number;
  historyCache: number;
  ease: EaseOptions;
  keepVersions: number;
  trainEvery: number | null;
  firstTraining: { interactions: number; items: number };
  firstTrainingCheckMs: number;
  fromHistory: boolean;
}

/** Default period of scheduled training: 6 hours. */
export const DEFAULT_TRAIN_EVERY = 6 * 3600_000;
/** Default size of the data the first model waits for (see {@link RecommendationsOptions.firstTraining}). */
export const DEFAULT_FIRST_TRAINING = { interactions: 500, items: 20 };
const ITEM_FIELDS = ['title', 'category', 'price'] as const;

/** What `rapport train` fits unless `ease` says otherwise. */
export const DEFAULT_EASE: EaseOptions = { ...EASE_TIME_OPTIONS, minItemUsers: 5 };

function resolveEase(e: EaseOptions): EaseOptions {
  // The confidence-weighted solver assumes a plain XᵀX: then the default is plain EASE.
  const weighted = Boolean(e.tune) || (e.observedWeight ?? 1) !== 1;
  const resolved = weighted && !e.timeKernel ? { lambda: 200, minItemUsers: 5, ...e, timeKernel: false as const } : { ...DEFAULT_EASE, ...e };
  try {
    new EaseModel(resolved); // checks the options now, not at the first training
  } catch (err) {
    throw new TypeError(`recommendations: ease: ${(err as Error).message}`);
  }
  return resolved;
}

export function resolveOptions(o: RecommendationsOptions): ResolvedOptions {
  const weights = { ...DEFAULT_WEIGHTS, ...o.weights };
  for (const [k, v] of Object.entries(weights)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`recommendations: weights["${k}"] must be a number >= 0, got ${String(v)}`);
    if (v === 0) delete weights[k];
  }
  const positive = (name: string, v: number | undefined, def: number) => {
    if (v === undefined) return def;
    if (!Number.isFinite(v) || v < 0) throw new TypeError(`recommendations: ${name} must be a number >= 0, got ${String(v)}`);
    return v;
  };
  return {
    weights,
    createItemsFromEvents: o.createItemsFromEvents ?? true,
    requireFields: resolveRequired(o.requireFields),
    pollMs: positive('pollMs', o.pollMs, 10_000),
    refreshMs: positive('refreshMs', o.refreshMs, 10_000),
    trendingDays: positive('trendingDays', o.trendingDays, 7),
    historyCache: Math.floor(positive('historyCache', o.historyCache, 10_000)),
    ease: resolveEase(o.ease ?? {}),
    keepVersions: Math.max(1, Math.floor(positive('keepVersions', o.keepVersions, 3))),
    trainEvery: o.trainEvery === 0 ? null : Math.max(1000, positive('trainEvery', o.trainEvery ?? undefined, DEFAULT_TRAIN_EVERY)),
    firstTraining: {
      interactions: Math.floor(positive('firstTraining.interactions', o.firstTraining?.interactions, DEFAULT_FIRST_TRAINING.interactions)),
      items: Math.floor(positive('firstTraining.items', o.firstTraining?.items, DEFAULT_FIRST_TRAINING.items)),
    },
    firstTrainingCheckMs: Math.max(1000, positive('firstTrainingCheckMs', o.firstTrainingCheckMs, 60_000)),
    fromHistory: o.fromHistory ?? true,
  };
}

function resolveRequired(fields: RecommendationsOptions['requireFields']): ResolvedOptions['requireFields'] {
  if (fields === undefined) return ['title'];
  if (!Array.isArray(fields)) throw new TypeError(`recommendations: requireFields must be an array of ${ITEM_FIELDS.join(', ')}`);
  for (const f of fields) {
    if (!(ITEM_FIELDS as readonly string[]).includes(f)) throw new TypeError(`recommendations: requireFields: "${String(f)}" is not one of ${ITEM_FIELDS.join(', ')}`);
  }
  return [...new Set(fields)];
}

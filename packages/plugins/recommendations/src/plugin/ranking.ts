import type { HistoryEntry } from '../models';
import { topK } from '../models';
import type { CatalogSnapshot } from './catalog-cache';
import type { LoadedModel } from './model-store';
import type { InteractionRow } from './store';

/** Business context of a recommendation request. */
export interface RecContext {
  category?: string | null;
  excludeIds?: readonly string[] | null;
  /** Also leave out every item the profile interacted with (viewed, added). Default false. */
  excludeInteracted?: boolean | null;
  /** Let already-bought items back in. Default false (bought items are left out). */
  includePurchased?: boolean | null;
}

/** One ranked candidate (the item row is attached after the availability re-check). */
export interface Candidate {
  itemId: string;
  score: number;
  model: 'ease' | 'attributes' | 'popularity';
  reason: string;
}

/** How many history items seed attribute similarity. */
const CONTENT_SOURCES = 3;
/** At most this many items are scored for attribute similarity per source item. */
const CONTENT_SCAN = 5000;

const labelOf = (s: CatalogSnapshot, itemId: string) => {
  const i = s.index.get(itemId);
  return (i !== undefined ? s.titles[i] : null) ?? itemId;
};

/** "because you bought X" / "because you added X to your cart" / "because you viewed X". */
export function becauseOf(s: CatalogSnapshot, h: InteractionRow): string {
  const label = labelOf(s, h.itemId);
  if (h.purchases > 0) return `because you bought ${label}`;
  if (h.adds > 0) return `because you added ${label} to your cart`;
  return `because you viewed ${label}`;
}

/** Attribute neighbours kept per source item and snapshot (most requests need far fewer). */
const MEMO_DEPTH = 64;

/**
 * The `want` items most similar to catalog item `source` by attribute tokens (Jaccard over tokens,
 * ties to the more popular, then the lower index; source excluded), best first. Counts
 * intersections over the tokens' posting lists, so it costs the lists' lengths, not a comparison
 * per item pair. Lists up to {@link MEMO_DEPTH} are memoised on the snapshot, which they depend on alone.
 */
function attributeNeighbours(s: CatalogSnapshot, source: number, want: number): { items: number[]; scores: number[] } {
  const memo = want <= MEMO_DEPTH ? s.similarMemo.get(source) : undefined;
  if (memo) return memo;
  const toks = s.itemTokens[source];
  const inter = s.scratch;
  const touched: number[] = [];
  for (const t of toks) {
    const list = s.postings[t];
    for (let k = 0; k < list.length; k++) if (inter[list[k]]++ === 0) touched.push(list[k]);
  }
  const scores = new Float64Array(touched.length);
  for (let k = 0; k < touched.length; k++) {
    const i = touched[k];
    const n = inter[i];
    inter[i] = 0;
    scores[k] = i === source ? Number.NEGATIVE_INFINITY : n / (toks.length + s.itemTokens[i].length - n) + 1e-3 * Math.min(1, s.trending[i] / 1000);
  }
  const depth = Math.max(want, MEMO_DEPTH);
  const top = topK(scores, depth).sort((a, b) => scores[b] - scores[a] || touched[a] - touched[b]);
  const out = { items: top.map((k) => touched[k]), scores: top.map((k) => scores[k]) };
  if (depth === MEMO_DEPTH) {
    if (s.similarMemo.size >= 100_000) s.similarMemo.clear();
    s.similarMemo.set(source, out);
  }
  return out;
}

/**
 * Items sharing attribute tokens with catalog item `source` that `accept` lets through, most
 * similar first (see {@link attributeNeighbours}), at most `limit`, and none scoring below
 * `minScore` (the search stops there instead of widening to the whole catalog).
 */
export function similarByAttributes(
  s: CatalogSnapshot,
  source: number,
  limit: number,
  accept: (i: number) => boolean,
  minScore = Number.NEGATIVE_INFINITY,
): Array<{ item: number; score: number }> {
  if (!s.itemTokens[source]?.length || limit <= 0) return [];
  const out: Array<{ item: number; score: number }> = [];
  for (let want = Math.min(limit * 4, MEMO_DEPTH); ; want *= 4) {
    out.length = 0;
    const { items, scores } = attributeNeighbours(s, source, want);
    let k = 0;
    for (; k < items.length && out.length < limit && scores[k] >= minScore; k++) if (accept(items[k])) out.push({ item: items[k], score: scores[k] });
    if (out.length >= limit || items.length < want || k < items.length) return out;
  }
}

/** Popularity candidates: trending (in `category` when given), then the newest items. */
export function popularCandidates(s: CatalogSnapshot, limit: number, category: string | null | undefined, accept: (i: number) => boolean): Candidate[] {
  const out: Candidate[] = [];
  const list = category ? (s.rankedByCategory.get(category) ?? []) : s.ranked;
  for (const i of list) {
    if (out.length >= limit) return out;
    if (accept(i)) out.push({ itemId: s.ids[i], score: s.trending[i], model: 'popularity', reason: category ? `popular in ${category} this week` : 'popular right now' });
  }
  for (const i of s.newest) {
    if (out.length >= limit) break;
    if (s.trending[i] > 0 || !accept(i)) continue;
    out.push({ itemId: s.ids[i], score: 0, model: 'popularity', reason: 'new in the catalog' });
  }
  return out;
}

/** What scoring needs of a history under one model; depends on nothing else. */
interface PreparedHistory {
  model: LoadedModel | null;
  /** The history in model indices (items the model knows). */
  mh: HistoryEntry[];
  rowOf: Map<number, InteractionRow>;
  /** Attribute-similarity sources: the strongest history items the model has no neighbours for. */
  sources: InteractionRow[];
}

/** Catalog position of each model item (-1: not in the catalog), per model and catalog index. */
const modelPositions = new WeakMap<LoadedModel, WeakMap<Map<string, number>, Int32Array>>();

function positionsIn(model: LoadedModel, s: CatalogSnapshot): Int32Array {
  let byIndex = modelPositions.get(model);
  if (!byIndex) modelPositions.set(model, (byIndex = new WeakMap()));
  let at = byIndex.get(s.index);
  if (!at) {
    at = Int32Array.from(model.itemIds, (id) => s.index.get(id) ?? -1);
    byIndex.set(s.index, at);
  }
  return at;
}

/** Cached histories are shared, immutable arrays: what is derived from them is kept with them. */
const preparedHistories = new WeakMap<readonly InteractionRow[], PreparedHistory>();

function prepare(history: readonly InteractionRow[], model: LoadedModel | null): PreparedHistory {
  const hit = preparedHistories.get(history);
  if (hit && hit.model === model) return hit;
  const mh: HistoryEntry[] = [];
  const rowOf = new Map<number, InteractionRow>();
  const unlearned: InteractionRow[] = [];
  for (const h of history) {
    const i = model?.index.get(h.itemId);
    if (i !== undefined) {
      mh.push({ item: i, weight: h.weight });
      rowOf.set(i, h);
    }
    if (i === undefined || !model!.learned.has(i)) unlearned.push(h);
  }
  // New items, or no trained model at all: the strongest few get attribute neighbours.
  const sources = unlearned.sort((a, b) => b.weight - a.weight || b.lastAt.getTime() - a.lastAt.getTime()).slice(0, CONTENT_SOURCES);
  const prepared = { model, mh, rowOf, sources };
  preparedHistories.set(history, prepared);
  return prepared;
}

/**
 * Ranks candidates for one profile. `history` is null when the profile has not granted
 * personalization: then only popularity is used, and nothing of its behaviour (not even what it
 * bought). Returns up to `limit` candidates, best first, already filtered on the snapshot's
 * availability, category and exclusions.
 */
export function rankForProfile(
  s: CatalogSnapshot,
  model: LoadedModel | null,
  history: readonly InteractionRow[] | null,
  ctx: RecContext,
  limit: number,
): Candidate[] {
  const excluded = new Set(ctx.excludeIds ?? []);
  for (const h of history ?? []) {
    if ((h.purchases > 0 && !ctx.includePurchased) || ctx.excludeInteracted) excluded.add(h.itemId);
  }
  const taken = new Set<string>();
  const acceptIdx = (i: number) => {
    if (s.available[i] !== 1 || (ctx.category && s.categories[i] !== ctx.category)) return false;
    const id = s.ids[i];
    return !taken.has(id) && !excluded.has(id);
  };

  const personal: Candidate[] = [];
  const content: Candidate[] = [];
  if (history?.length) {
    const { mh, rowOf, sources } = prepare(history, model);
    if (model && mh.length) {
      // Few candidates are filtered out, so start small and widen only when the filters ate them.
      for (let want = limit * 3 + excluded.size; ; want *= 4) {
        personal.length = 0;
        const top = model.ease.rank(mh, want, 1e-6);
        const at = positionsIn(model, s);
        const accepted = top.filter((t) => at[t.item] >= 0 && acceptIdx(at[t.item]));
        // "because you ...": one pass over the history per chunk of candidates.
        for (let from = 0; from < accepted.length && personal.length < limit; from += limit) {
          const chunk = accepted.slice(from, from + limit);
          const because = model.ease.explainMany(mh, chunk.map((t) => t.item));
          chunk.forEach((t, j) => {
            const row = because[j] !== undefined ? rowOf.get(because[j]!) : undefined;
            if (!row || personal.length >= limit) return; // no item-item evidence: left to popularity
            personal.push({ itemId: model.itemIds[t.item], score: t.score, model: 'ease', reason: becauseOf(s, row) });
          });
        }
        if (personal.length >= limit || top.length < want) break;
      }
    }
    const seenContent = new Set<string>();
    for (const h of sources) {
      const src = s.index.get(h.itemId);
      if (src === undefined) continue;
      for (const { item, score } of similarByAttributes(s, src, limit, acceptIdx)) {
        const id = s.ids[item];
        if (seenContent.has(id) || personal.some((p) => p.itemId === id)) continue;
        seenContent.add(id);
        content.push({ itemId: id, score, model: 'attributes', reason: becauseOf(s, h) });
      }
    }
    content.sort((a, b) => b.score - a.score);
  }

  // Mix: two learned picks for every attribute pick while both last, then popularity fills.
  const out: Candidate[] = [];
  const push = (c: Candidate) => {
    if (out.length < limit && !taken.has(c.itemId)) {
      out.push(c);
      taken.add(c.itemId);
    }
  };
  let p = 0;
  let c = 0;
  while (out.length < limit && (p < personal.length || c < content.length)) {
    const contentTurn = out.length % 3 === 2 || p >= personal.length;
    if (contentTurn && c < content.length) push(content[c++]);
    else if (p < personal.length) push(personal[p++]);
    else push(content[c++]);
  }
  if (out.length < limit) for (const cand of popularCandidates(s, limit - out.length, ctx.category, acceptIdx)) push(cand);
  return out;
}

/**
 * In `similarItems` of a learned item, every this-many-th place (the 10th, 20th, ...) is kept for an
 * item the model has not learned. Chosen on the item-to-item evaluation (`npm run eval:recs --
 * --similar`): every 4th place at 50% similarity cost 0.005 NDCG@10 of `similarItems` on MovieLens,
 * the 10th place at 90% at most 0.0019 over seeds 1-5 and 42 (docs/recommendations.md, Cold start).
 * A list shorter than this has no kept place.
 */
export const NEW_ITEM_EVERY = 10;
/** Attribute similarity (Jaccard over tokens) an unlearned item needs to take a kept place: near-identical. */
export const NEW_ITEM_MIN_SIMILARITY = 0.9;

/** Places of a learned item's `similarItems` kept for items the model has not learned (see {@link rankSimilar}). */
export interface NewItemSlots {
  /** Every this-many-th place is kept (the 10th, 20th, ... for 10); 0 keeps none (learned neighbours only). */
  every: number;
  /** Attribute similarity (Jaccard over tokens) an unlearned item needs to take a kept place. */
  minSimilarity: number;
}

/** What `similarItems` serves: {@link NEW_ITEM_EVERY}, {@link NEW_ITEM_MIN_SIMILARITY}. */
export const NEW_ITEM_SLOTS: Readonly<NewItemSlots> = { every: NEW_ITEM_EVERY, minSimilarity: NEW_ITEM_MIN_SIMILARITY };

/**
 * Items similar to `itemId`. For an item with learned neighbours: those (EASE), except that every
 * `slots.every`-th place goes to an item the model has not learned (new since the last training,
 * or too few consenting profiles) when one is at least `slots.minSimilarity` similar by
 * attributes, so a new item gets exposure before the next training; then attribute neighbours
 * fill. For any other item: attribute neighbours. `slots` defaults to what is served
 * ({@link NEW_ITEM_SLOTS}); the offline evaluation (`src/eval/similar-items.ts`) also calls it
 * with `every: 0` to measure the kept places.
 */
export function rankSimilar(
  s: CatalogSnapshot,
  model: LoadedModel | null,
  itemId: string,
  limit: number,
  slots: Readonly<NewItemSlots> = NEW_ITEM_SLOTS,
): Candidate[] {
  const out: Candidate[] = [];
  const taken = new Set<string>([itemId]);
  const label = labelOf(s, itemId);
  const accept = (id: string) => {
    if (taken.has(id)) return false;
    const i = s.index.get(id);
    return i !== undefined && s.available[i] === 1;
  };
  const src = s.index.get(itemId);
  const mi = model?.index.get(itemId);
  if (model && mi !== undefined && model.learned.has(mi)) {
    const isLearned = (id: string) => {
      const k = model.index.get(id);
      return k !== undefined && model.learned.has(k);
    };
    const every = slots.every > 0 ? Math.floor(slots.every) : 0;
    const kept = every > 0 ? Math.floor(limit / every) : 0;
    const fresh =
      src === undefined || kept === 0
        ? []
        : similarByAttributes(s, src, kept, (i) => accept(s.ids[i]) && !isLearned(s.ids[i]), slots.minSimilarity);
    let f = 0;
    const pushFresh = () => {
      const c = fresh[f++];
      out.push({ itemId: s.ids[c.item], score: c.score, model: 'attributes', reason: `similar to ${label}` });
      taken.add(s.ids[c.item]);
    };
    // Learned items only, above the popularity prior (the item itself scores only its prior).
    for (const { item, score } of model.ease.rank([{ item: mi, weight: 1 }], limit * 3, 1e-6)) {
      if (kept > 0 && out.length % every === every - 1 && f < fresh.length) pushFresh();
      if (out.length >= limit) break;
      if (!accept(model.itemIds[item])) continue;
      out.push({ itemId: model.itemIds[item], score, model: 'ease', reason: `often chosen with ${label}` });
      taken.add(model.itemIds[item]);
    }
    while (out.length < limit && f < fresh.length) if (accept(s.ids[fresh[f].item])) pushFresh(); else f++;
  }
  if (src !== undefined && out.length < limit) {
    for (const { item, score } of similarByAttributes(s, src, limit - out.length, (i) => accept(s.ids[i]))) {
      out.push({ itemId: s.ids[item], score, model: 'attributes', reason: `similar to ${label}` });
      taken.add(s.ids[item]);
    }
  }
  return out;
}

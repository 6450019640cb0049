import { createHash } from 'node:crypto';
import type { Logger, PluginConsent, SqlRunner as Queryable } from '@rapport/core';
import { isRecommendable, PURPOSE, toItem, type ItemRow, type RequiredField } from './store';

/** Longest time attribute neighbours are reused across catalog reloads. */
export const MEMO_MAX_AGE_MS = 5 * 60_000;

/** Attribute tokens of an item, for content similarity: `category=<c>` and `<key>=<value>`. */
export function tokensOf(category: string | null, attributes: Record<string, unknown>): string[] {
  const out = new Set<string>();
  if (category) out.add(`category=${category.toLowerCase()}`);
  for (const [k, v] of Object.entries(attributes ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) {
      if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out.add(`${k}=${String(x).toLowerCase()}`);
    }
  }
  return [...out];
}

/**
 * What serving needs of the catalog and of recent activity, in memory: titles, categories,
 * availability, attribute tokens, and trending scores (consented interactions only: this week's
 * weight, plus a thousandth of the all-time weight to order items without recent activity).
 * Reloaded as a whole (two statements). Rows this or another server writes are patched in at once
 * (`applyRows`), so an item made unavailable is never recommended after the write returned here,
 * and within milliseconds on the other servers.
 */
export class CatalogSnapshot {
  ids: string[] = [];
  index = new Map<string, number>();
  /** The catalog rows themselves (what `Recommendation.item` returns). */
  rows: ItemRow[] = [];
  titles: Array<string | null> = [];
  categories: Array<string | null> = [];
  /** 1 when the item may be recommended: available, with every required field (`requireFields`). */
  available: Uint8Array = new Uint8Array(0);
  /** Attribute token ids of each item. */
  itemTokens: Int32Array[] = [];
  /** Items holding each token id (posting lists). */
  postings: Int32Array[] = [];
  /** Scratch counters for similarity (one per item; always zero between calls). */
  scratch: Uint16Array = new Uint16Array(0);
  /**
   * Attribute neighbours already computed per source item (see ranking.ts). Kept across reloads
   * while the items and their tokens stay the same, for at most {@link MEMO_MAX_AGE_MS} (their
   * tie-break between equally similar items uses trending as it was when they were computed).
   */
  similarMemo = new Map<number, { items: number[]; scores: number[] }>();
  memoSince = 0;
  /** Digest of the item ids and their attribute tokens. */
  structure = '';
  /** Trending score per item. */
  trending: Float64Array = new Float64Array(0);
  /** Items with a trending score > 0, best first; and per category. */
  ranked: number[] = [];
  rankedByCategory = new Map<string, number[]>();
  /** Every item, newest first (the fill when nothing is trending). */
  newest: number[] = [];
  /** When the items were read (a full load). */
  loadedAt = 0;
  /** When the trending counts were read. */
  trendingAt = 0;
}

export class CatalogCache {
  snapshot = new CatalogSnapshot();
  /** Items changed: the next read reloads everything (at most once a second). */
  private dirty = true;
  /** Interactions changed: trending is refreshed in the background (at most once a second). */
  private activity = false;
  private loading: Promise<void> | null = null;
  private trendingLoad: Promise<void> | null = null;
  /** Rows written while a full load was reading: applied again on top of its result. */
  private patchedDuringLoad: ItemRow[] | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly consent: PluginConsent,
    private readonly logger: Logger,
    private readonly refreshMs: number,
    private readonly trendingDays: number,
    /** False while item changes made by other servers may be missed (notifications down). */
    private readonly trusted: () => boolean = () => true,
    /** Fields an item needs before it is recommended (`requireFields`). */
    private readonly required: readonly RequiredField[] = [],
  ) {}

  /** Items were written here: the snapshot is reloaded before the next read (at most once a second). */
  markDirty(): void {
    this.dirty = true;
  }

  /** Interactions were written: trending is refreshed in the background (at most once a second). */
  markActivity(): void {
    this.activity = true;
  }

  /**
   * Patches written rows into the current snapshot (row, title, availability). A new item, or a
   * changed category or attributes, also marks it dirty: indexes are rebuilt at the next reload.
   */
  applyRows(rows: readonly ItemRow[]): void {
    this.patchedDuringLoad?.push(...rows);
    const s = this.snapshot;
    for (const r of rows) {
      const i = s.index.get(r.id);
      if (i === undefined) {
        this.dirty = true;
        continue;
      }
      const before = s.rows[i];
      if (r.updatedAt < before.updatedAt) continue; // an older read arriving late
      if (before.category !== r.category || JSON.stringify(before.attributes) !== JSON.stringify(r.attributes)) this.dirty = true;
      s.rows[i] = r;
      s.titles[i] = r.title;
      s.categories[i] = r.category;
      s.available[i] = isRecommendable(r, this.required) ? 1 : 0;
    }
  }

  /**
   * A snapshot fresh enough to serve from. Waits only when it is missing, items changed (`markDirty`),
   * or refreshMs is 0. Otherwise trending is refreshed in the background every `refreshMs`, or a
   * second after interactions changed; the items are re-read only when they changed (here, by a
   * notification, or when trending names an item this snapshot lacks).
   */
  async get(): Promise<CatalogSnapshot> {
    const now = Date.now();
    const age = now - this.snapshot.loadedAt;
    // Without notifications, other servers' item writes are not heard of: re-read them every refreshMs.
    const blind = !this.trusted() && age > this.refreshMs;
    if (this.snapshot.loadedAt === 0 || this.refreshMs === 0 || (this.dirty && age > 1000) || blind) {
      await this.reload();
      return this.snapshot;
    }
    const trendingAge = now - this.snapshot.trendingAt;
    if (trendingAge > this.refreshMs || (this.activity && trendingAge > 1000)) {
      this.trendingLoad ??= this.refreshTrending()
        .catch((err: unknown) => this.logger.warn({ err }, 'trending refresh failed; serving the previous counts'))
        .finally(() => (this.trendingLoad = null));
    }
    return this.snapshot;
  }

  reload(): Promise<void> {
    this.loading ??= this.load()
      .catch((err: unknown) => {
        this.dirty = true; // try again at the next read
        this.patchedDuringLoad = null;
        throw err;
      })
      .finally(() => (this.loading = null));
    return this.loading;
  }

  /** Consented weight per item: this week's, and all-time. */
  private trendingRows(): Promise<Array<{ item_id: string; week: number | null; total: number }>> {
    this.activity = false;
    return this.db.query(
      `SELECT i.item_id, SUM(i.weight) FILTER (WHERE i.last_at > now() - make_interval(secs => $1)) AS week, SUM(i.weight) AS total
         FROM rec_interaction i WHERE ${this.consent.sql('i.profile_id', PURPOSE)} GROUP BY i.item_id`,
      [this.trendingDays * 86400],
    );
  }

  /** New trending counts on the current items (a new snapshot sharing everything else). */
  private async refreshTrending(): Promise<void> {
    const base = this.snapshot;
    const pop = await this.trendingRows();
    if (this.snapshot.loadedAt !== base.loadedAt) return; // a full load replaced it meanwhile, with newer counts
    const s = Object.assign(new CatalogSnapshot(), this.snapshot);
    if (!setTrending(s, pop)) this.dirty = true; // an item this snapshot does not have yet
    this.snapshot = s;
  }

  private async load(): Promise<void> {
    this.dirty = false;
    this.patchedDuringLoad = [];
    const [items, pop] = await Promise.all([this.db.query('SELECT * FROM rec_item ORDER BY created_at DESC, id'), this.trendingRows()]);
    const s = new CatalogSnapshot();
    s.available = new Uint8Array(items.length);
    s.scratch = new Uint16Array(items.length);
    const digest = createHash('sha1');
    indexItems(s, items.map(toItem), (r, i, tokens) => {
      s.rows.push(r);
      s.available[i] = isRecommendable(r, this.required) ? 1 : 0;
      digest.update(`${r.id}\u0000${tokens.join('\u0000')}\u0001`);
    });
    setTrending(s, pop);
    s.loadedAt = Date.now();
    s.structure = digest.digest('hex');
    const prev = this.snapshot;
    if (prev.structure === s.structure && s.loadedAt - prev.memoSince < MEMO_MAX_AGE_MS) {
      s.similarMemo = prev.similarMemo;
      s.memoSince = prev.memoSince;
    } else s.memoSince = s.loadedAt;
    const patches = this.patchedDuringLoad;
    this.patchedDuringLoad = null;
    this.snapshot = s;
    if (patches.length) this.applyRows(patches); // writes that committed while the items were being read
  }
}

/** What {@link indexItems} reads of an item. */
export interface IndexedItem {
  id: string;
  title: string | null;
  category: string | null;
  attributes: Record<string, unknown>;
}

/**
 * Fills a snapshot's item index (ids, titles, categories, newest first as given) and its attribute
 * posting lists ({@link tokensOf} tokens) from `items`, in order; `each` sees every item with its
 * position and tokens (the serving cache also keeps rows, availability and a digest there). Shared by
 * the cache and the offline evaluation, so both rank on the same index.
 */
export function indexItems<T extends IndexedItem>(s: CatalogSnapshot, items: readonly T[], each?: (item: T, i: number, tokens: string[]) => void): void {
  const tokenIds = new Map<string, number>();
  const lists: number[][] = [];
  items.forEach((r, i) => {
    s.ids.push(r.id);
    s.index.set(r.id, i);
    s.titles.push(r.title);
    s.categories.push(r.category);
    const tokens = tokensOf(r.category, r.attributes);
    each?.(r, i, tokens);
    const ids = tokens.map((tok) => {
      let id = tokenIds.get(tok);
      if (id === undefined) {
        id = lists.push([]) - 1;
        tokenIds.set(tok, id);
      }
      lists[id].push(i);
      return id;
    });
    s.itemTokens.push(Int32Array.from(ids));
    s.newest.push(i);
  });
  s.postings = lists.map((l) => Int32Array.from(l));
}

/**
 * Sets trending scores and rankings on a snapshot: this week's weight, plus a thousandth of the
 * all-time weight to order items without recent activity. False when a row names an item the
 * snapshot does not have.
 */
function setTrending(s: CatalogSnapshot, pop: ReadonlyArray<{ item_id: string; week: number | null; total: number }>): boolean {
  let complete = true;
  s.trending = new Float64Array(s.ids.length);
  for (const r of pop) {
    const i = s.index.get(r.item_id);
    if (i !== undefined) s.trending[i] = Number(r.week ?? 0) + Number(r.total) / 1000;
    else complete = false;
  }
  s.ranked = s.newest.filter((i) => s.trending[i] > 0).sort((a, b) => s.trending[b] - s.trending[a] || a - b);
  s.rankedByCategory = new Map();
  for (const i of s.ranked) {
    const c = s.categories[i];
    if (!c) continue;
    const list = s.rankedByCategory.get(c) ?? [];
    list.push(i);
    s.rankedByCategory.set(c, list);
  }
  s.trendingAt = Date.now();
  return complete;
}

import type { SqlRunner as Queryable } from '@rapport/core';
import type { InteractionKind, ProductMention } from './products';

/** A catalog row as the plugin reads it. */
export interface ItemRow {
  id: string;
  title: string | null;
  category: string | null;
  price: number | null;
  available: boolean;
  attributes: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

/** One interaction row. */
export interface InteractionRow {
  profileId: string;
  itemId: string;
  weight: number;
  count: number;
  views: number;
  adds: number;
  purchases: number;
  lastAt: Date;
}

export const toItem = (r: Record<string, unknown>): ItemRow => ({
  id: r.id as string,
  title: (r.title as string | null) ?? null,
  category: (r.category as string | null) ?? null,
  price: r.price === null || r.price === undefined ? null : Number(r.price),
  available: r.available as boolean,
  attributes: (r.attributes as Record<string, unknown>) ?? {},
  createdAt: r.created_at as Date,
  updatedAt: r.updated_at as Date,
});

const toInteraction = (r: Record<string, unknown>): InteractionRow => ({
  profileId: r.profile_id as string,
  itemId: r.item_id as string,
  weight: Number(r.weight),
  count: r.count as number,
  views: r.views as number,
  adds: r.adds as number,
  purchases: r.purchases as number,
  lastAt: r.last_at as Date,
});

/** An explicit catalog entry (`upsertItems`): fields left undefined keep their stored value. */
export interface ItemUpsert {
  id: string;
  title?: string | null;
  category?: string | null;
  price?: number | null;
  available?: boolean | null;
  attributes?: Record<string, unknown> | null;
}

/** Something that runs transactions (the plugin context's `db`). */
export interface Transactional {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Upserts explicit catalog entries in one transaction; they become `source = 'catalog'`. A field
 * left undefined keeps its stored value (a new item: null, `available` true, `attributes` {}).
 * The same id twice: later fields win.
 */
export async function upsertCatalogItems(db: Transactional, input: ItemUpsert[]): Promise<ItemRow[]> {
  if (!input.length) return [];
  const byId = new Map<string, ItemUpsert>();
  for (const i of input) byId.set(i.id, { ...byId.get(i.id), ...Object.fromEntries(Object.entries(i).filter(([, v]) => v !== undefined)) } as ItemUpsert);
  const items = [...byId.values()];
  return db.transaction(async (tx) => {
    const existing = new Map(
      (await tx.query('SELECT * FROM rec_item WHERE id = ANY($1::text[]) FOR UPDATE', [items.map((i) => i.id)])).map((r) => [r.id as string, toItem(r)]),
    );
    const merged = items.map((i) => {
      const e = existing.get(i.id);
      return {
        id: i.id,
        title: i.title !== undefined ? i.title : (e?.title ?? null),
        category: i.category !== undefined ? i.category : (e?.category ?? null),
        price: i.price !== undefined ? i.price : (e?.price ?? null),
        available: i.available ?? e?.available ?? true,
        attributes: i.attributes ?? e?.attributes ?? {},
      };
    });
    const rows = await tx.query(
      `INSERT INTO rec_item AS t (id, title, category, price, available, attributes, source)
       SELECT u.id, u.title, u.category, u.price, u.available, u.attributes, 'catalog'
         FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::boolean[], $6::jsonb[]) AS u(id, title, category, price, available, attributes)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, category = EXCLUDED.category, price = EXCLUDED.price,
         available = EXCLUDED.available, attributes = EXCLUDED.attributes, source = 'catalog', updated_at = now()
       RETURNING *`,
      [
        merged.map((i) => i.id), merged.map((i) => i.title), merged.map((i) => i.category), merged.map((i) => i.price),
        merged.map((i) => i.available), merged.map((i) => JSON.stringify(i.attributes)),
      ],
    );
    const out = new Map(rows.map((r) => [r.id as string, toItem(r)]));
    return input.map((i) => out.get(i.id)!);
  });
}

/**
 * Upserts what an event says about products. New ids become `source = 'event'` items. An item
 * an event created takes newer non-empty values; an explicit catalog item only gets its empty
 * fields filled (events never overwrite what `upsertItems` set, nor anything with nothing).
 * Returns the items it created or changed.
 */
export async function upsertEventItems(db: Queryable, products: ProductMention[]): Promise<ItemRow[]> {
  if (!products.length) return [];
  const changed = await db.query(
    `INSERT INTO rec_item AS t (id, title, category, price)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[])
     ON CONFLICT (id) DO UPDATE SET
       title    = CASE WHEN t.source = 'catalog' THEN COALESCE(t.title, EXCLUDED.title) ELSE COALESCE(EXCLUDED.title, t.title) END,
       category = CASE WHEN t.source = 'catalog' THEN COALESCE(t.category, EXCLUDED.category) ELSE COALESCE(EXCLUDED.category, t.category) END,
       price    = CASE WHEN t.source = 'catalog' THEN COALESCE(t.price, EXCLUDED.price) ELSE COALESCE(EXCLUDED.price, t.price) END,
       updated_at = now()
     WHERE (t.source = 'catalog' AND ((t.title IS NULL AND EXCLUDED.title IS NOT NULL) OR (t.category IS NULL AND EXCLUDED.category IS NOT NULL) OR (t.price IS NULL AND EXCLUDED.price IS NOT NULL)))
        OR (t.source = 'event' AND ((EXCLUDED.title IS NOT NULL AND EXCLUDED.title IS DISTINCT FROM t.title)
                                 OR (EXCLUDED.category IS NOT NULL AND EXCLUDED.category IS DISTINCT FROM t.category)
                                 OR (EXCLUDED.price IS NOT NULL AND EXCLUDED.price IS DISTINCT FROM t.price)))
     RETURNING t.*`,
    [products.map((p) => p.id), products.map((p) => p.title), products.map((p) => p.category), products.map((p) => p.price)],
  );
  return changed.map(toItem);
}

/** One event's weight on one (profile, item) pair. */
export interface InteractionDelta {
  profileId: string;
  itemId: string;
  weight: number;
  kind: InteractionKind;
  at: Date;
}

/**
 * Adds many events' weights in one statement: the deltas are summed per (profile, item) first
 * (one statement may not update a row twice), then upserted together.
 */
export async function addInteractionsBatch(db: Queryable, deltas: readonly InteractionDelta[]): Promise<void> {
  const by = new Map<string, Aggregated>();
  for (const d of deltas) {
    const key = `${d.profileId}\u0000${d.itemId}`;
    let a = by.get(key);
    if (!a) by.set(key, (a = { profileId: d.profileId, itemId: d.itemId, weight: 0, count: 0, views: 0, adds: 0, purchases: 0, lastAt: d.at }));
    a.weight += d.weight;
    a.count += 1;
    if (d.kind === 'view') a.views += 1;
    if (d.kind === 'add') a.adds += 1;
    if (d.kind === 'purchase') a.purchases += 1;
    if (d.at > a.lastAt) a.lastAt = d.at;
  }
  await addAggregated(db, [...by.values()]);
}

/** Summed interactions of (profile, item) pairs: the shape of a stored row. */
type Aggregated = InteractionRow;

/** Adds summed interactions to the stored ones, one statement (each pair at most once in `rows`). */
async function addAggregated(db: Queryable, rows: readonly Aggregated[]): Promise<void> {
  if (!rows.length) return;
  await db.query(
    `INSERT INTO rec_interaction AS t (profile_id, item_id, weight, count, views, adds, purchases, last_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::real[], $4::int[], $5::int[], $6::int[], $7::int[], $8::timestamptz[])
     ON CONFLICT (profile_id, item_id) DO UPDATE SET
       weight = t.weight + EXCLUDED.weight, count = t.count + EXCLUDED.count, views = t.views + EXCLUDED.views,
       adds = t.adds + EXCLUDED.adds, purchases = t.purchases + EXCLUDED.purchases, last_at = GREATEST(t.last_at, EXCLUDED.last_at)`,
    [
      rows.map((r) => r.profileId), rows.map((r) => r.itemId), rows.map((r) => r.weight), rows.map((r) => r.count),
      rows.map((r) => r.views), rows.map((r) => r.adds), rows.map((r) => r.purchases), rows.map((r) => r.lastAt),
    ],
  );
}

/**
 * The products of many events as one list for {@link upsertEventItems}: one entry per id (one
 * statement may not update a row twice), each field the newest non-empty value mentioned.
 */
export function mergeMentions(mentions: readonly ProductMention[]): ProductMention[] {
  const by = new Map<string, ProductMention>();
  for (const m of mentions) {
    const prev = by.get(m.id);
    by.set(m.id, prev ? { ...prev, ...m, title: m.title ?? prev.title, category: m.category ?? prev.category, price: m.price ?? prev.price } : m);
  }
  return [...by.values()];
}

/** Moves the merged profile's interactions onto the survivor, adding up pairs both have, in the caller's transaction. */
export async function foldInteractionsIn(tx: Queryable, survivorId: string, mergedId: string): Promise<number> {
  const gone = await tx.query('DELETE FROM rec_interaction WHERE profile_id = $1 RETURNING *', [mergedId]);
  await addAggregated(tx, gone.map((r) => ({ ...toInteraction(r), profileId: survivorId })));
  return gone.length;
}

/** Current interactions of many profiles, one statement. */
export async function interactionsOf(db: Queryable, profileIds: readonly string[]): Promise<InteractionRow[][]> {
  const rows = await db.query('SELECT * FROM rec_interaction WHERE profile_id = ANY($1::uuid[])', [profileIds]);
  const by = new Map<string, InteractionRow[]>();
  for (const r of rows) {
    const list = by.get(r.profile_id as string) ?? [];
    list.push(toInteraction(r));
    by.set(r.profile_id as string, list);
  }
  return profileIds.map((id) => by.get(id) ?? []);
}

/** Items by id, one statement (missing ids are null). */
export async function itemsByIds(db: Queryable, ids: readonly string[]): Promise<Array<ItemRow | null>> {
  const rows = await db.query('SELECT * FROM rec_item WHERE id = ANY($1::text[])', [ids]);
  const by = new Map(rows.map((r) => [r.id as string, toItem(r)]));
  return ids.map((id) => by.get(id) ?? null);
}

/** The purpose interactions serve: only profiles whose consent allows it are trained on or counted as trending. */
export const PURPOSE = 'personalization';

/** A catalog field an item must have before it is recommended (`requireFields`). */
export type RequiredField = 'title' | 'category' | 'price';

/**
 * SQL condition: the item row (alias `alias`) has every required field. Field names come from a
 * fixed list, never from input. `TRUE` when none is required.
 */
export function completeSql(fields: readonly RequiredField[], alias = 'rec_item'): string {
  return fields.length ? fields.map((f) => `${alias}.${f} IS NOT NULL`).join(' AND ') : 'TRUE';
}

/** May this row be recommended: available, and every required field set. */
export function isRecommendable(row: ItemRow, fields: readonly RequiredField[]): boolean {
  return row.available && fields.every((f) => row[f] !== null && row[f] !== '');
}

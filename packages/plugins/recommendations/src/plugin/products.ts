/** One product an e-commerce event names, after coercion. */
export interface ProductMention {
  id: string;
  title: string | null;
  category: string | null;
  price: number | null;
  quantity: number;
}

/** Kinds of interaction, by the event that recorded it. */
export type InteractionKind = 'view' | 'add' | 'purchase' | 'other';

/** At most this many products are read from one event; the rest are ignored. */
export const MAX_PRODUCTS_PER_EVENT = 100;
const MAX_ID_LENGTH = 200;
const MAX_TEXT_LENGTH = 500;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A number, or a numeric string (`"19.99"`, `" 5 "`); anything else (NaN, "", "abc", objects) is null. */
export function coerceNumber(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}

function coerceId(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  return s && s.length <= MAX_ID_LENGTH ? s : null;
}

function coerceText(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  return s ? s.slice(0, MAX_TEXT_LENGTH) : null;
}

/** One Segment product object (`product_id`, else `sku`, else `id`), or null when it has no usable id. */
export function productOf(raw: unknown): ProductMention | null {
  if (!isObject(raw)) return null;
  const id = coerceId(raw.product_id) ?? coerceId(raw.sku) ?? coerceId(raw.id);
  if (!id) return null;
  const price = coerceNumber(raw.price);
  const quantity = coerceNumber(raw.quantity);
  return {
    id,
    title: coerceText(raw.name),
    category: coerceText(raw.category),
    price: price !== null && price >= 0 ? Math.round(price * 100) / 100 : null,
    quantity: quantity !== null && quantity >= 1 ? Math.min(Math.floor(quantity), 10_000) : 1,
  };
}

/**
 * The products an event's `properties` name: `properties.products[]` when it is an array, plus
 * the top-level product fields (Segment's `Product Viewed` / `Product Added` put them there).
 * Entries without an id, non-objects and a non-array `products` are skipped; the same id twice
 * is kept once (first title/category/price that is set wins, quantities add up).
 */
export function productsOf(properties: unknown): ProductMention[] {
  if (!isObject(properties)) return [];
  const raws: unknown[] = [];
  if (Array.isArray(properties.products)) raws.push(...properties.products.slice(0, MAX_PRODUCTS_PER_EVENT));
  raws.push(properties);
  const byId = new Map<string, ProductMention>();
  for (const raw of raws) {
    const p = productOf(raw);
    if (!p) continue;
    const prev = byId.get(p.id);
    if (!prev) byId.set(p.id, p);
    else {
      prev.title ??= p.title;
      prev.category ??= p.category;
      prev.price ??= p.price;
      prev.quantity += p.quantity;
    }
  }
  return [...byId.values()];
}

/** The interaction kind of a Segment e-commerce event name. */
export function kindOf(eventName: string): InteractionKind {
  if (eventName === 'Product Viewed' || eventName === 'Product Clicked') return 'view';
  if (eventName === 'Product Added' || eventName === 'Product Added to Wishlist') return 'add';
  if (eventName === 'Order Completed') return 'purchase';
  return 'other';
}

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

/** A value of an e-commerce event the plugin will not use as sent (see `checkEvent`). */
export interface ProductWarning {
  field: string;
  rule: string;
  message: string;
}

const shown = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Warnings about one product object at `at` (a path such as `properties.products[2]`). */
function productWarnings(raw: Record<string, unknown>, at: string, topLevel: boolean): ProductWarning[] {
  const out: ProductWarning[] = [];
  const id = coerceId(raw.product_id) ?? coerceId(raw.sku) ?? coerceId(raw.id);
  if (!id) {
    // The top level of a multi-product event (Order Completed) carries no product of its own.
    if (!topLevel) out.push({ field: at, rule: 'required', message: 'has no product_id, sku or id (a string of 1 to 200 characters, or a number); the product was skipped' });
    return out;
  }
  const p = (f: string) => (at ? `${at}.${f}` : f);
  if (raw.price !== undefined && raw.price !== null) {
    const n = coerceNumber(raw.price);
    if (n === null) {
      const comma = typeof raw.price === 'string' && /^\s*-?\d+,\d+\s*$/.test(raw.price);
      out.push({
        field: p('price'), rule: 'number',
        message: `${shown(raw.price)} is not a number${comma ? ' (use a decimal point: "1.99")' : ''}; the item's price was left as it was`,
      });
    } else if (n < 0) out.push({ field: p('price'), rule: 'min', message: `${shown(raw.price)} is negative; the item's price was left as it was` });
  }
  if (raw.quantity !== undefined && raw.quantity !== null) {
    const q = coerceNumber(raw.quantity);
    if (q === null || q < 1) out.push({ field: p('quantity'), rule: 'min', message: `${shown(raw.quantity)} is not a number >= 1; 1 was used` });
  }
  return out;
}

/**
 * What {@link productsOf} drops or changes in an event's `properties`, as warnings: a `products`
 * that is not an array, entries that are not objects or have no id, prices it cannot read, more
 * than {@link MAX_PRODUCTS_PER_EVENT} products. Pure; field paths start at `properties`.
 */
export function propertyWarnings(properties: Readonly<Record<string, unknown>>): ProductWarning[] {
  const out: ProductWarning[] = [];
  const products = properties.products;
  if (products !== undefined && products !== null) {
    if (!Array.isArray(products)) {
      out.push({ field: 'properties.products', rule: 'array', message: `must be an array of product objects, got ${typeof products === 'string' ? 'a string' : typeof products}; its products were ignored` });
    } else {
      if (products.length > MAX_PRODUCTS_PER_EVENT) {
        out.push({ field: 'properties.products', rule: 'maxItems', message: `has ${products.length} products; only the first ${MAX_PRODUCTS_PER_EVENT} were read` });
      }
      products.slice(0, MAX_PRODUCTS_PER_EVENT).forEach((raw, k) => {
        const at = `properties.products[${k}]`;
        if (!isObject(raw)) out.push({ field: at, rule: 'object', message: `must be a product object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}; it was skipped` });
        else out.push(...productWarnings(raw, at, false));
      });
    }
  }
  out.push(...productWarnings(properties as Record<string, unknown>, 'properties', true));
  return out;
}

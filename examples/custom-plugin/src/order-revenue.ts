/**
 * Revenue of a Segment `Order Completed` event: `revenue`, else `total`, else the sum of
 * `products[].price * quantity`. Numbers sent as strings are accepted; anything else counts as 0.
 */
export function orderRevenue(properties: Record<string, unknown>): number {
  const num = (v: unknown): number | null => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    return Number.isFinite(n) ? n : null;
  };
  const direct = num(properties.revenue) ?? num(properties.total);
  if (direct !== null) return direct;
  const products = Array.isArray(properties.products) ? properties.products : [];
  return products.reduce<number>((sum, p) => {
    if (typeof p !== 'object' || p === null) return sum;
    const { price, quantity } = p as Record<string, unknown>;
    return sum + (num(price) ?? 0) * (num(quantity) ?? 1);
  }, 0);
}

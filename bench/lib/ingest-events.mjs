// The ingestion benches' messages: one identify per person (email and plan traits), then tracks with properties,
// and how they are sent (batches, a few in flight).
import { randomUUID } from 'node:crypto';

/** `events` messages for `users` people: the first `users` are identifies, the rest tracks, people in turn. */
export function makeEvents(events, users) {
  const out = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < events; i++) {
    const u = i % users;
    const first = i < users;
    out.push(
      first
        ? { type: 'identify', messageId: randomUUID(), userId: `user-${u}`, anonymousId: `anon-${u}`, timestamp: new Date(base + i * 1000).toISOString(),
            traits: { email: `user${u}@example.com`, plan: u % 3 ? 'free' : 'pro' } }
        : { type: 'track', messageId: randomUUID(), userId: `user-${u}`, event: i % 5 ? 'Product Viewed' : 'Order Completed', timestamp: new Date(base + i * 1000).toISOString(),
            properties: { product_id: `p-${i % 997}`, price: (i % 50) + 0.99, category: `c-${i % 13}` }, context: { ip: '203.0.113.9', library: { name: 'bench' } } },
    );
  }
  return out;
}

/** Runs `work` over `items` with at most `n` at a time. */
export async function pool(items, n, work) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** `list` cut into arrays of `size`. */
export function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Deterministic pseudo-random numbers for reproducible training. */

/** Returns a seeded generator of floats in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a seeded generator of integers in [0, n). */
export function seededInt(seed: number): (n: number) => number {
  const next = seededRandom(seed);
  return (n: number) => Math.floor(next() * n);
}

/**
 * Jaro and Jaro-Winkler string similarity, implemented without dependencies.
 *
 * Both functions work on UTF-16 code units of the strings as given; callers are
 * expected to normalise first (see `normalizeText`).
 */

let flagsA = new Uint8Array(64);
let flagsB = new Uint8Array(64);

function ensureCapacity(length: number): void {
  if (flagsA.length < length) {
    const size = Math.max(length, flagsA.length * 2);
    flagsA = new Uint8Array(size);
    flagsB = new Uint8Array(size);
  }
}

/**
 * Jaro similarity of two strings, in [0, 1]. Two empty strings score 1, one empty string scores 0.
 *
 * @example jaro('MARTHA', 'MARHTA') // 0.944
 */
export function jaro(a: string, b: string): number {
  if (a === b) return 1;
  const la = a.length;
  const lb = b.length;
  if (la === 0 || lb === 0) return 0;
  ensureCapacity(Math.max(la, lb));
  flagsA.fill(0, 0, la);
  flagsB.fill(0, 0, lb);
  const window = Math.max(0, Math.floor(Math.max(la, lb) / 2) - 1);
  let matches = 0;
  for (let i = 0; i < la; i++) {
    const lo = Math.max(0, i - window);
    const hi = Math.min(lb - 1, i + window);
    const ca = a.charCodeAt(i);
    for (let j = lo; j <= hi; j++) {
      if (flagsB[j] === 0 && b.charCodeAt(j) === ca) {
        flagsA[i] = 1;
        flagsB[j] = 1;
        matches++;
        break;
      }
    }
  }
  if (matches === 0) return 0;
  let transpositions = 0;
  let k = 0;
  for (let i = 0; i < la; i++) {
    if (flagsA[i] === 0) continue;
    while (flagsB[k] === 0) k++;
    if (a.charCodeAt(i) !== b.charCodeAt(k)) transpositions++;
    k++;
  }
  const t = transpositions / 2;
  return (matches / la + matches / lb + (matches - t) / matches) / 3;
}

/**
 * Jaro-Winkler similarity of two strings, in [0, 1]: Jaro similarity boosted for a
 * common prefix of up to `maxPrefix` characters (scaling factor `prefixScale`), applied
 * only when the Jaro similarity exceeds `boostThreshold` (Winkler's original 0.7).
 *
 * @example jaroWinkler('MARTHA', 'MARHTA') // 0.961
 * @example jaroWinkler('DWAYNE', 'DUANE') // 0.84
 * @example jaroWinkler('DIXON', 'DICKSONX') // 0.813
 */
export function jaroWinkler(a: string, b: string, prefixScale = 0.1, maxPrefix = 4, boostThreshold = 0.7): number {
  const j = jaro(a, b);
  if (j <= boostThreshold) return j;
  const limit = Math.min(maxPrefix, a.length, b.length);
  let prefix = 0;
  while (prefix < limit && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  return j + prefix * prefixScale * (1 - j);
}

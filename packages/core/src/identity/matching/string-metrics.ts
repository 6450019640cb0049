/**
 * Small, dependency-free string metrics used by comparators and blocking:
 * optimal-string-alignment edit distance, token Jaccard similarity and Soundex.
 */

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transposition, each edit
 * costing 1). When `maxDistance` is given the computation stops early and returns
 * `maxDistance + 1` as soon as the distance is known to exceed it.
 */
export function editDistance(a: string, b: string, maxDistance = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > maxDistance) return maxDistance + 1;
  if (la === 0) return lb;
  if (lb === 0) return la;
  let prevPrev = new Array<number>(lb + 1).fill(0);
  let prev = new Array<number>(lb + 1);
  let cur = new Array<number>(lb + 1);
  for (let j = 0; j <= lb; j++) prev[j] = j;
  for (let i = 1; i <= la; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= lb; j++) {
      const cb = b.charCodeAt(j - 1);
      const cost = ca === cb ? 0 : 1;
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) {
        v = Math.min(v, prevPrev[j - 2] + 1);
      }
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > maxDistance) return maxDistance + 1;
    const tmp = prevPrev;
    prevPrev = prev;
    prev = cur;
    cur = tmp;
  }
  return prev[lb];
}

/**
 * True when `a` and `b` differ by at most one edit: one insertion, deletion,
 * substitution or transposition of two adjacent characters. Linear time.
 */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (la === lb) {
    // substitution at i, or transposition of i and i+1
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return (
      i + 1 < la &&
      a.charCodeAt(i) === b.charCodeAt(i + 1) &&
      a.charCodeAt(i + 1) === b.charCodeAt(i) &&
      a.slice(i + 2) === b.slice(i + 2)
    );
  }
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** Splits a normalised string into its distinct whitespace-separated tokens. */
export function tokenSet(s: string): Set<string> {
  const out = new Set<string>();
  for (const t of s.split(' ')) if (t) out.add(t);
  return out;
}

function distinctTokens(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    if (i === s.length || s.charCodeAt(i) === 32) {
      if (i > start) {
        const t = s.slice(start, i);
        if (!out.includes(t)) out.push(t);
      }
      start = i + 1;
    }
  }
  return out;
}

/** Jaccard similarity (|A ∩ B| / |A ∪ B|) of the token sets of two normalised strings; 0 when both are empty. */
export function tokenJaccard(a: string, b: string): number {
  if (a === b) return a.length > 0 ? 1 : 0;
  const ta = distinctTokens(a);
  const tb = distinctTokens(b);
  if (ta.length === 0 || tb.length === 0) return 0;
  let common = 0;
  for (const t of ta) if (tb.includes(t)) common++;
  return common / (ta.length + tb.length - common);
}

const SOUNDEX_CODES: Record<string, string> = {
  b: '1', f: '1', p: '1', v: '1',
  c: '2', g: '2', j: '2', k: '2', q: '2', s: '2', x: '2', z: '2',
  d: '3', t: '3',
  l: '4',
  m: '5', n: '5',
  r: '6',
};

/**
 * American Soundex code (letter + 3 digits) of a normalised string, ignoring anything but
 * ASCII letters. Returns `null` when the string contains no ASCII letter.
 *
 * @example soundex('robert') // 'r163'
 */
export function soundex(s: string): string | null {
  let first = '';
  let code = '';
  let last = '';
  for (const ch of s) {
    if (ch < 'a' || ch > 'z') continue;
    const digit = SOUNDEX_CODES[ch] ?? '';
    if (!first) {
      first = ch;
      last = digit;
      continue;
    }
    if (digit && digit !== last) {
      code += digit;
      if (code.length === 3) break;
    }
    // h and w do not separate equal codes; vowels do
    if (ch !== 'h' && ch !== 'w') last = digit;
  }
  if (!first) return null;
  return (first + code + '000').slice(0, 4);
}

/**
 * Trait access and value normalisation. Every function here is total: wrong types,
 * empty or unparsable values yield `null` ("missing"), never an exception.
 */
import type { ComparatorKind } from './matching.types';

/** Values longer than this (after normalisation) are truncated, bounding comparison cost. */
export const MAX_VALUE_LENGTH = 256;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Reads a trait by dotted path (`address.postalCode`). A literal key containing the dots
 * wins over traversal. Returns `undefined` when any segment is missing or not an object.
 */
export function getTraitValue(traits: unknown, path: string): unknown {
  if (traits === null || typeof traits !== 'object') return undefined;
  const obj = traits as Record<string, unknown>;
  if (hasOwn.call(obj, path)) return obj[path];
  let cur: unknown = obj;
  for (const segment of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const rec = cur as Record<string, unknown>;
    if (!hasOwn.call(rec, segment)) return undefined;
    cur = rec[segment];
  }
  return cur;
}

/**
 * Generic text normalisation: NFKD, strip combining marks (diacritics), lower-case,
 * trim and collapse whitespace. Returns '' for non-strings.
 */
export function normalizeText(value: unknown): string {
  if (typeof value !== 'string') return '';
  let s = value.length > MAX_VALUE_LENGTH * 4 ? value.slice(0, MAX_VALUE_LENGTH * 4) : value;
  s = s.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
  return s.length > MAX_VALUE_LENGTH ? s.slice(0, MAX_VALUE_LENGTH) : s;
}

function textOrNull(s: string): string | null {
  return s.length > 0 ? s : null;
}

/** Name normalisation: text normalisation, apostrophes dropped, other punctuation turned into spaces. */
export function normalizeName(value: unknown): string | null {
  const s = normalizeText(value)
    .replace(/['’`ʼ]/g, '')
    .replace(/[^\p{L}\p{N} ]+/gu, ' ')
    .replace(/ +/g, ' ')
    .trim();
  return textOrNull(s);
}

/** Free-text (address) normalisation: text normalisation with punctuation turned into spaces. */
export function normalizeFreeText(value: unknown): string | null {
  const s = normalizeText(value)
    .replace(/[^\p{L}\p{N} ]+/gu, ' ')
    .replace(/ +/g, ' ')
    .trim();
  return textOrNull(s);
}

/** Email normalisation: lower-cased, no spaces, exactly one `@` with a non-empty local part and domain. */
export function normalizeEmail(value: unknown): string | null {
  const s = normalizeText(value).replace(/ /g, '');
  const at = s.indexOf('@');
  if (at <= 0 || at !== s.lastIndexOf('@') || at === s.length - 1) return null;
  return s;
}

function stringOrNumber(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return String(value);
  return null;
}

/** Phone normalisation: digits only (a leading international `00` is dropped); fewer than 6 digits is missing. */
export function normalizePhone(value: unknown): string | null {
  const raw = stringOrNumber(value);
  if (raw === null) return null;
  let digits = raw.normalize('NFKD').replace(/\D+/g, '');
  if (digits.startsWith('00')) digits = digits.slice(2);
  if (digits.length < 6 || digits.length > 20) return null;
  return digits;
}

/** Identifier normalisation: letters and digits only, lower-cased (accepts numbers). */
export function normalizeAlnum(value: unknown): string | null {
  const raw = stringOrNumber(value);
  if (raw === null) return null;
  const s = normalizeText(raw).replace(/[^\p{L}\p{N}]+/gu, '');
  return textOrNull(s);
}

/** Plain value normalisation for exact comparison (accepts strings, numbers and booleans). */
export function normalizeExact(value: unknown): string | null {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const raw = stringOrNumber(value);
  return raw === null ? null : textOrNull(normalizeText(raw));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Earliest plausible year of a date trait. */
export const MIN_YEAR = 1800;
/** Latest plausible year of a date trait. */
export const MAX_YEAR = 2200;

/**
 * Date normalisation to `YYYYMMDD`. Accepts `Date` objects, `YYYYMMDD` / `YYYY-MM-DD` /
 * `YYYY/MM/DD` / ISO date-time strings and 8-digit integers. The year must lie in
 * [1800, 2200] and month/day must be at most two digits; a month or day that is out of
 * calendar range (a typo such as `19458030`) is kept so edit-distance levels can still use
 * it, but absurd values (`99999999`, `0`, `hello`) are missing.
 */
export function normalizeDate(value: unknown): string | null {
  let y: number;
  let m: number;
  let d: number;
  if (value instanceof Date) {
    const t = value.getTime();
    if (!Number.isFinite(t)) return null;
    y = value.getUTCFullYear();
    m = value.getUTCMonth() + 1;
    d = value.getUTCDate();
  } else {
    const raw = stringOrNumber(value);
    if (raw === null) return null;
    const s = raw.trim();
    let match = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
    if (!match) match = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$/.exec(s);
    if (!match) return null;
    y = Number(match[1]);
    m = Number(match[2]);
    d = Number(match[3]);
  }
  if (y < MIN_YEAR || y > MAX_YEAR || m > 99 || d > 99) return null;
  if (m === 0 && d === 0) return null;
  return `${y}${pad2(m)}${pad2(d)}`;
}

/** Normaliser used by each comparator kind. */
export function normalizerFor(kind: ComparatorKind): (value: unknown) => string | null {
  switch (kind) {
    case 'name':
      return normalizeName;
    case 'address':
      return normalizeFreeText;
    case 'email':
      return normalizeEmail;
    case 'phone':
      return normalizePhone;
    case 'date':
      return normalizeDate;
    case 'postcode':
    case 'numeric-string':
      return normalizeAlnum;
    case 'exact':
      return normalizeExact;
    default:
      return normalizeExact;
  }
}

/**
 * Reads and normalises the value of one or more paths; several present values are joined
 * with a space. Returns `null` when nothing usable is present.
 */
export function readNormalized(
  traits: unknown,
  paths: readonly string[],
  normalize: (value: unknown) => string | null,
): string | null {
  if (paths.length === 1) {
    return normalize(getTraitValue(traits, paths[0]));
  }
  let out: string | null = null;
  for (const p of paths) {
    const v = normalize(getTraitValue(traits, p));
    if (v !== null) out = out === null ? v : `${out} ${v}`;
  }
  return out;
}

/**
 * Comparators: turn a `ComparisonConfig` into a function that maps two normalised values
 * to an agreement level (best first, "else" last, -1 for missing).
 */
import { jaroWinkler } from './jaro-winkler';
import type { ComparatorKind, ComparisonConfig, LevelSpec, MatchRecord } from './matching.types';
import { normalizerFor, readNormalized } from './normalize';
import { tokenJaccard, withinOneEdit, editDistance } from './string-metrics';

/** Level index used for pairs where either value is missing. */
export const NULL_LEVEL = -1;

/** Label of the null level in explanations. */
export const NULL_LEVEL_LABEL = 'missing value';

/** Label of the implicit final level. */
export const ELSE_LEVEL_LABEL = 'else';

/** Default levels per comparator kind (used when a comparison has no explicit `levels`). */
export function defaultLevels(kind: ComparatorKind, hasSwap: boolean): LevelSpec[] {
  switch (kind) {
    case 'name':
      return [
        { type: 'exact' },
        ...(hasSwap ? [{ type: 'swapped' } as LevelSpec] : []),
        { type: 'jaroWinkler', threshold: 0.92 },
        { type: 'jaroWinkler', threshold: 0.88 },
        { type: 'jaroWinkler', threshold: 0.7 },
      ];
    case 'email':
      return [{ type: 'exact' }, { type: 'emailLocalPart' }];
    case 'phone':
      return [{ type: 'exact' }, { type: 'suffix', length: 7 }];
    case 'date':
      return [
        { type: 'exact' },
        { type: 'dateTransposed' },
        { type: 'editDistance', maxDistance: 1 },
        { type: 'yearWithin', years: 1 },
      ];
    case 'postcode':
      return [{ type: 'exact' }, { type: 'editDistance', maxDistance: 1 }, { type: 'prefix', length: 3 }];
    case 'address':
      return [
        { type: 'exact' },
        { type: 'jaroWinkler', threshold: 0.92 },
        { type: 'jaccard', threshold: 0.5 },
        { type: 'jaroWinkler', threshold: 0.8 },
      ];
    case 'numeric-string':
      return [{ type: 'exact' }, { type: 'editDistance', maxDistance: 1 }];
    case 'exact':
    default:
      return [{ type: 'exact' }];
  }
}

/** Human-readable label of a level, e.g. `Jaro-Winkler >= 0.92`. */
export function levelLabel(level: LevelSpec, swapPaths?: string[]): string {
  if (level.label) return level.label;
  switch (level.type) {
    case 'exact':
      return 'exact match';
    case 'jaroWinkler':
      return `Jaro-Winkler >= ${level.threshold}`;
    case 'jaccard':
      return `token Jaccard >= ${level.threshold}`;
    case 'editDistance':
      return `edit distance <= ${level.maxDistance}`;
    case 'prefix':
      return `first ${level.length} characters equal`;
    case 'suffix':
      return `last ${level.length} characters equal`;
    case 'swapped': {
      const what = swapPaths && swapPaths.length > 0 ? swapPaths.join('+') : 'other field';
      const t = level.threshold ?? 1;
      return t >= 1 ? `swapped with ${what}` : `swapped with ${what} (Jaro-Winkler >= ${t})`;
    }
    case 'emailLocalPart':
      return 'same email local part';
    case 'dateTransposed':
      return 'day/month transposed';
    case 'yearWithin':
      return `year within ±${level.years}`;
    default:
      return 'unknown level';
  }
}

/** Lazily computed, per-pair shared similarity (Jaro-Winkler of the two values). */
interface PairContext {
  jw: number;
}

type LevelTest = (a: string, b: string, aSwap: string | null, bSwap: string | null, ctx: PairContext) => boolean;

function pairJw(a: string, b: string, ctx: PairContext): number {
  if (ctx.jw < 0) ctx.jw = jaroWinkler(a, b);
  return ctx.jw;
}

function emailLocal(email: string): string {
  const local = email.slice(0, email.indexOf('@'));
  const plus = local.indexOf('+');
  return plus > 0 ? local.slice(0, plus) : local;
}

function similar(a: string, b: string, threshold: number): boolean {
  return threshold >= 1 ? a === b : a === b || jaroWinkler(a, b) >= threshold;
}

function isDigits8(s: string): boolean {
  return s.length === 8 && /^\d{8}$/.test(s);
}

function compileLevel(level: LevelSpec): LevelTest {
  switch (level.type) {
    case 'exact':
      return (a, b) => a === b;
    case 'jaroWinkler': {
      const t = level.threshold;
      return (a, b, _aSwap, _bSwap, ctx) => pairJw(a, b, ctx) >= t;
    }
    case 'jaccard': {
      const t = level.threshold;
      return (a, b) => tokenJaccard(a, b) >= t;
    }
    case 'editDistance': {
      const max = level.maxDistance;
      if (max === 1) return (a, b) => withinOneEdit(a, b);
      return (a, b) => editDistance(a, b, max) <= max;
    }
    case 'prefix': {
      const n = level.length;
      return (a, b) => a.length >= n && b.length >= n && a.slice(0, n) === b.slice(0, n);
    }
    case 'suffix': {
      const n = level.length;
      return (a, b) => a.length >= n && b.length >= n && a.slice(-n) === b.slice(-n);
    }
    case 'swapped': {
      const t = level.threshold ?? 1;
      return (a, b, aSwap, bSwap) =>
        aSwap !== null && bSwap !== null && similar(a, bSwap, t) && similar(aSwap, b, t);
    }
    case 'emailLocalPart':
      return (a, b) => {
        if (a.indexOf('@') < 0 || b.indexOf('@') < 0) return false;
        const la = emailLocal(a);
        return la.length > 0 && la === emailLocal(b);
      };
    case 'dateTransposed':
      return (a, b) =>
        isDigits8(a) &&
        isDigits8(b) &&
        a.slice(0, 4) === b.slice(0, 4) &&
        a.slice(4, 6) === b.slice(6, 8) &&
        a.slice(6, 8) === b.slice(4, 6);
    case 'yearWithin': {
      const years = level.years;
      return (a, b) => {
        if (!isDigits8(a) || !isDigits8(b)) return false;
        return Math.abs(Number(a.slice(0, 4)) - Number(b.slice(0, 4))) <= years;
      };
    }
    default:
      return () => false;
  }
}

/** A comparison compiled for fast evaluation. */
export interface CompiledComparison {
  /** Comparison name. */
  name: string;
  /** The configuration it was compiled from. */
  config: ComparisonConfig;
  /** Labels of the non-null levels; the last one is "else". */
  labels: string[];
  /** Whether the comparison needs the swap value. */
  usesSwap: boolean;
  /** Normalised value of a record for this comparison (null when missing). */
  valueOf(record: MatchRecord): string | null;
  /** Normalised swap value of a record (null when missing or unused). */
  swapValueOf(record: MatchRecord): string | null;
  /** Level index of two normalised values (NULL_LEVEL when either is missing). */
  compare(a: string | null, b: string | null, aSwap: string | null, bSwap: string | null): number;
}

/** Compiles one comparison configuration. Throws only on invalid configuration (never on data). */
export function compileComparison(config: ComparisonConfig): CompiledComparison {
  if (!config.paths || config.paths.length === 0) {
    throw new Error(`comparison "${config.name}" has no paths`);
  }
  const swapPaths = config.swapPaths && config.swapPaths.length > 0 ? config.swapPaths : undefined;
  const specs = config.levels ?? defaultLevels(config.kind, swapPaths !== undefined);
  const usesSwap = swapPaths !== undefined && specs.some((l) => l.type === 'swapped');
  const tests = specs.map(compileLevel);
  const labels = [...specs.map((l) => levelLabel(l, swapPaths)), ELSE_LEVEL_LABEL];
  const elseLevel = specs.length;
  const normalize = normalizerFor(config.kind);
  const paths = config.paths;
  return {
    name: config.name,
    config,
    labels,
    usesSwap,
    valueOf: (record) => readNormalized(record?.traits, paths, normalize),
    swapValueOf: (record) => (usesSwap && swapPaths ? readNormalized(record?.traits, swapPaths, normalize) : null),
    compare(a, b, aSwap, bSwap) {
      if (a === null || b === null) return NULL_LEVEL;
      const ctx: PairContext = { jw: -1 };
      for (let i = 0; i < tests.length; i++) {
        if (tests[i](a, b, aSwap, bSwap, ctx)) return i;
      }
      return elseLevel;
    },
  };
}

/** Normalised values of a set of records for every comparison (column-major for speed). */
export interface PreparedRecords {
  /** The records, in input order. */
  records: MatchRecord[];
  /** `values[k][i]`: normalised value of record i for comparison k. */
  values: Array<Array<string | null>>;
  /** `swaps[k][i]`: normalised swap value of record i for comparison k (null array when unused). */
  swaps: Array<Array<string | null> | null>;
}

/** Normalises every record once for every comparison. */
export function prepareRecords(records: MatchRecord[], comparisons: CompiledComparison[]): PreparedRecords {
  const values = comparisons.map((c) => records.map((r) => c.valueOf(r)));
  const swaps = comparisons.map((c) => (c.usesSwap ? records.map((r) => c.swapValueOf(r)) : null));
  return { records, values, swaps };
}

/** Level of records i and j of a prepared set for comparison k. */
export function compareRecords(
  prepared: PreparedRecords,
  comparisons: CompiledComparison[],
  k: number,
  i: number,
  j: number,
): number {
  const vals = prepared.values[k];
  const sw = prepared.swaps[k];
  return comparisons[k].compare(vals[i], vals[j], sw ? sw[i] : null, sw ? sw[j] : null);
}

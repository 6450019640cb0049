/** What the retention and lifecycle queries answer, with cells under k people withheld (`null`, `suppressed`). */

/** One cell of a cohort's row: the people of the cohort who came back `offset` periods after their first period. */
export interface RetentionCell {
  offset: number;
  count: number | null;
  /** `count / cohort size`, null when either is withheld. */
  rate: number | null;
  suppressed: boolean;
}

/** The people whose first start event fell in one period, and their returns. */
export interface RetentionCohort {
  /** Start of the cohort's period. */
  start: Date;
  size: number | null;
  suppressed: boolean;
  /** Offset 0 is the cohort itself (everyone); then one cell per later period up to the last one asked for. */
  cells: RetentionCell[];
}

export interface RetentionResult {
  k: number;
  cohorts: RetentionCohort[];
}

/** One period of a lifecycle. `dormant` counts people active the period before and not in this one. */
export interface LifecyclePeriod {
  start: Date;
  new: number | null;
  returning: number | null;
  resurrecting: number | null;
  dormant: number | null;
  suppressed: boolean;
}

export interface LifecycleResult {
  k: number;
  periods: LifecyclePeriod[];
}

/** A count as published: 1 to k-1 people is withheld (0 singles nobody out and is shown). */
export function publish(n: number, k: number): number | null {
  return n > 0 && n < k ? null : n;
}

/**
 * Builds the retention triangle from raw counts: `sizes[c]` people in cohort c, `returned.get(c)?.get(j)` of them back
 * at offset j (j >= 1). Rates are computed from the raw counts, and withheld with either.
 */
export function buildRetention(fromMs: number, periodMs: number, periods: number, sizes: number[], returned: Map<number, Map<number, number>>, k: number): RetentionResult {
  const cohorts: RetentionCohort[] = [];
  for (let c = 0; c < periods; c++) {
    const raw = sizes[c] ?? 0;
    const size = publish(raw, k);
    const cells: RetentionCell[] = [];
    for (let j = 0; c + j < periods; j++) {
      const n = j === 0 ? raw : returned.get(c)?.get(j) ?? 0;
      const count = publish(n, k);
      const rate = count === null || size === null || raw === 0 ? null : Math.round((n / raw) * 1e4) / 1e4;
      cells.push({ offset: j, count, rate, suppressed: count === null });
    }
    cohorts.push({ start: new Date(fromMs + c * periodMs), size, suppressed: size === null, cells });
  }
  return { k, cohorts };
}

/** Builds the lifecycle periods from raw counts per period and status. */
export function buildLifecycle(fromMs: number, periodMs: number, periods: number, counts: Map<number, Record<string, number>>, k: number): LifecycleResult {
  const out: LifecyclePeriod[] = [];
  for (let p = 0; p < periods; p++) {
    const c = counts.get(p) ?? {};
    const row = {
      new: publish(c.new ?? 0, k),
      returning: publish(c.returning ?? 0, k),
      resurrecting: publish(c.resurrecting ?? 0, k),
      dormant: publish(c.dormant ?? 0, k),
    };
    out.push({ start: new Date(fromMs + p * periodMs), ...row, suppressed: Object.values(row).some((v) => v === null) });
  }
  return { k, periods: out };
}

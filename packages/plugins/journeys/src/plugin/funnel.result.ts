/** What a funnel answers: one series per breakdown value, one entry per step, with suppressed cells as `null`. */

/** A bin of time to convert from the previous step: `[fromSeconds, toSeconds)`, the last bin closed. */
export interface FunnelBin {
  fromSeconds: number;
  toSeconds: number;
  /** People whose time falls in the bin; `null` when 1 to k-1. */
  count: number | null;
  suppressed: boolean;
}

/** One step of a series. */
export interface FunnelStepResult {
  /** 1-based. */
  step: number;
  event: string;
  /** People who reached this step; `null` when 1 to k-1. */
  entered: number | null;
  /** People who went on to the next step (`null` for the last step, or when 1 to k-1). */
  converted: number | null;
  conversionFromFirst: number | null;
  conversionFromPrevious: number | null;
  /** Median time from the previous step to this one, in seconds (`null` for step 1 or when too few people). */
  medianSecondsToConvert: number | null;
  p90SecondsToConvert: number | null;
  /** Distribution of the time from the previous step (`null` for step 1 or when too few people). */
  histogram: FunnelBin[] | null;
  /** True when any number of this step was withheld because it counted fewer than k people. */
  suppressed: boolean;
}

/** The steps for one breakdown value (`null`: no breakdown, or people whose event lacked the property). */
export interface FunnelSeries {
  breakdownValue: string | null;
  steps: FunnelStepResult[];
}

/** A funnel's answer. */
export interface FunnelResult {
  series: FunnelSeries[];
  /** The k applied to every cell. */
  k: number;
  /** Breakdown values left out (beyond the first {@link MAX_SERIES} by people entering). */
  omittedBreakdownValues: number;
}

/** Most breakdown values answered, by people entering the first step, largest first. */
export const MAX_SERIES = 50;

/** The per-(series, step) figures the SQL returns, before suppression. */
export interface RawStep {
  entered: number;
  p50Ms: number | null;
  p90Ms: number | null;
  /** Count per bin index (absent: 0). */
  bins: Map<number, number>;
}

/** Width of a histogram bin in ms: the window cut into `bins` equal parts, rounded up. */
export function binWidthMs(windowMs: number, bins: number): number {
  return Math.ceil(windowMs / bins);
}

/**
 * Turns raw per-step figures into a series, withholding every cell of 1 to k-1 people. Rates and times derive from
 * the cells, so a withheld count withholds them too.
 */
export function buildSeries(
  breakdownValue: string | null, events: string[], raw: (RawStep | undefined)[], k: number, windowMs: number, bins: number,
): FunnelSeries {
  const cell = (n: number): number | null => (n > 0 && n < k ? null : n);
  const width = binWidthMs(windowMs, bins);
  const first = raw[0]?.entered ?? 0;
  const steps = events.map((event, i): FunnelStepResult => {
    const r = raw[i];
    const n = r?.entered ?? 0;
    const entered = cell(n);
    const nextN = i + 1 < events.length ? (raw[i + 1]?.entered ?? 0) : null;
    const converted = nextN === null ? null : cell(nextN);
    const prevN = i === 0 ? n : (raw[i - 1]?.entered ?? 0);
    const rate = (num: number, den: number) => (entered === null || cell(den) === null || den === 0 ? null : num / den);
    const timed = i > 0 && entered !== null && n > 0;
    const histogram = i === 0 || entered === null
      ? null
      : Array.from({ length: bins }, (_, b): FunnelBin => {
          const c = r?.bins.get(b) ?? 0;
          return { fromSeconds: (b * width) / 1000, toSeconds: ((b + 1) * width) / 1000, count: cell(c), suppressed: cell(c) === null };
        });
    return {
      step: i + 1,
      event,
      entered,
      converted,
      conversionFromFirst: rate(n, first),
      conversionFromPrevious: rate(n, prevN),
      medianSecondsToConvert: timed && r?.p50Ms != null ? r.p50Ms / 1000 : null,
      p90SecondsToConvert: timed && r?.p90Ms != null ? r.p90Ms / 1000 : null,
      histogram,
      suppressed: entered === null || (nextN !== null && converted === null) || (histogram?.some((b) => b.suppressed) ?? false),
    };
  });
  return { breakdownValue, steps };
}

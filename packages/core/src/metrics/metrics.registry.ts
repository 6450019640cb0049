/** One metric's current value, as an exporter reads it: one sample per series (a histogram gives `_bucket`, `_sum` and `_count` samples). */
export interface MetricSample {
  name: string;
  help: string;
  type: MetricType;
  value: number;
  /** The series' labels; absent for a metric without labels. */
  labels?: Record<string, string>;
}

/** The kinds of metric, as Prometheus names them. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label values by label name. Keep the values few: every combination is a series of its own. */
export type MetricLabels<L extends string = string> = Readonly<Record<L, string>>;

/** One series of a labelled gauge, as its `collect` reports it. */
export interface GaugeSeries<L extends string = string> {
  labels: MetricLabels<L>;
  value: number;
}

/**
 * How the workers of a cluster combine a metric into one: `sum` (counters, histograms and gauges of
 * what each process holds) or `max` (gauges every process reads from the same database, which a
 * sum would multiply by the number of workers).
 */
export type MetricAggregator = 'sum' | 'max';

/**
 * A metric with every series, in the shape Prometheus clients exchange (`prom-client`'s
 * `getMetricsAsJSON`): an exporter renders it and a cluster aggregates it without knowing the metric.
 */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  aggregator: MetricAggregator;
  values: Array<{ labels: Record<string, string>; value: number; metricName?: string }>;
}

/** A counter with labels. */
export interface LabelledCounter<L extends string> {
  /** Adds `by` (default 1, never negative) to the series of these labels. */
  inc(labels: MetricLabels<L>, by?: number): void;
}

/** A histogram (with or without labels: pass `{}`). */
export interface Histogram<L extends string> {
  /** Counts one observation (seconds, bytes, ...) in the series of these labels. */
  observe(labels: MetricLabels<L>, value: number): void;
}

/** Latency buckets in seconds, from 1 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NAME = /^[a-z][a-z0-9_]*$/;
const LABEL = /^[a-z][a-z0-9_]*$/;

interface Definition {
  help: string;
  type: MetricType;
  aggregator: MetricAggregator;
  labelNames: readonly string[];
  /** Values by series key (the label values joined), for counters and set gauges. */
  series: Map<string, { labels: Record<string, string>; value: number }>;
  /** Histograms: bucket upper bounds, and per series the counts per bucket, sum and count. */
  buckets?: readonly number[];
  histo?: Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>;
  collect?: () => number | ReadonlyArray<GaugeSeries>;
}

/**
 * Counters, gauges and histograms of core, the server and plugins, kept in memory per process.
 * Plugins register theirs through `ctx.metrics` (prefixed `rapport_plugin_<plugin>_`); the server's
 * `/metrics` renders {@link families} in the Prometheus text format; tests read {@link collect}.
 * Labels are declared when a metric is registered, and each label's values must stay few (a route
 * pattern, an outcome, a plugin name: never an id, a key or a raw URL).
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Definition>();
  private readonly refreshers: Array<() => Promise<void>> = [];

  /** A counter; registering the same name twice returns the same counter. */
  counter(name: string, help: string): { inc(by?: number): void } {
    const c = this.labelledCounter(name, help, []);
    return { inc: (by?: number) => c.inc({}, by) };
  }

  /** A counter with labels (for example `outcome`, `reason`). */
  labelledCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): LabelledCounter<L> {
    const m = this.register(name, help, 'counter', labelNames);
    return {
      inc: (labels, by = 1) => {
        if (!(by >= 0)) throw new RangeError(`counter ${name} only goes up: inc(${by})`);
        const s = this.seriesOf(name, m, labels);
        s.value += by;
      },
    };
  }

  /** A gauge, set by its owner or read through `collect` when metrics are collected. */
  gauge(name: string, help: string, collect?: () => number, aggregator: MetricAggregator = 'sum'): { set(value: number): void } {
    const m = this.register(name, help, 'gauge', [], aggregator);
    if (collect) m.collect = collect;
    return {
      set: (value: number) => {
        this.seriesOf(name, m, {}).value = value;
      },
    };
  }

  /**
   * A gauge with labels: `set` one series, or give `collect`, which returns every series when
   * metrics are collected (series it no longer returns disappear).
   */
  labelledGauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    options: { collect?: () => ReadonlyArray<GaugeSeries<L>>; aggregator?: MetricAggregator } = {},
  ): { set(labels: MetricLabels<L>, value: number): void; reset(): void } {
    const m = this.register(name, help, 'gauge', labelNames, options.aggregator ?? 'sum');
    if (options.collect) m.collect = options.collect as () => ReadonlyArray<GaugeSeries>;
    return {
      set: (labels, value) => {
        this.seriesOf(name, m, labels).value = value;
      },
      reset: () => m.series.clear(),
    };
  }

  /** A histogram over `buckets` (upper bounds, ascending; `+Inf` is added). */
  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[] = LATENCY_BUCKETS): Histogram<L> {
    const m = this.register(name, help, 'histogram', labelNames);
    if (!m.buckets) {
      if (!buckets.length || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))) {
        throw new RangeError(`histogram ${name}: buckets must be finite and ascending`);
      }
      m.buckets = [...buckets];
      m.histo = new Map();
    }
    const bounds = m.buckets;
    return {
      observe: (labels, value) => {
        const key = this.keyOf(name, m, labels);
        let h = m.histo!.get(key);
        if (!h) m.histo!.set(key, (h = { labels: pick(labels, m.labelNames), counts: new Array<number>(bounds.length).fill(0), sum: 0, count: 0 }));
        for (let i = bounds.length - 1; i >= 0 && value <= bounds[i]; i--) h.counts[i]++;
        h.sum += value;
        h.count++;
      },
    };
  }

  /**
   * Work to do before each collection that needs I/O (a query whose answer sets gauges). The exporter
   * awaits {@link refresh} before it reads; a refresher that fails leaves the values as they were.
   */
  beforeCollect(refresh: () => Promise<void>): void {
    this.refreshers.push(refresh);
  }

  /** Runs every {@link beforeCollect} refresher; returns the errors of those that failed. */
  async refresh(): Promise<unknown[]> {
    const done = await Promise.allSettled(this.refreshers.map((r) => r()));
    return done.filter((d): d is PromiseRejectedResult => d.status === 'rejected').map((d) => d.reason);
  }

  /** Every metric with its series now, for an exporter. A `collect` that throws reports NaN (or no series). */
  families(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const [name, m] of this.metrics) {
      const f: MetricFamily = { name, help: m.help, type: m.type, aggregator: m.aggregator, values: [] };
      if (m.type === 'histogram') {
        for (const h of m.histo?.values() ?? []) {
          m.buckets!.forEach((le, i) => f.values.push({ metricName: `${name}_bucket`, labels: { ...h.labels, le: String(le) }, value: h.counts[i] }));
          f.values.push({ metricName: `${name}_bucket`, labels: { ...h.labels, le: '+Inf' }, value: h.count });
          f.values.push({ metricName: `${name}_sum`, labels: { ...h.labels }, value: h.sum });
          f.values.push({ metricName: `${name}_count`, labels: { ...h.labels }, value: h.count });
        }
      } else if (m.collect) {
        let got: number | ReadonlyArray<GaugeSeries>;
        try {
          got = m.collect();
        } catch {
          got = m.labelNames.length ? [] : Number.NaN;
        }
        if (typeof got === 'number') f.values.push({ labels: {}, value: got });
        else for (const s of got) f.values.push({ labels: pick(s.labels, m.labelNames), value: s.value });
      } else {
        for (const s of m.series.values()) f.values.push({ labels: { ...s.labels }, value: s.value });
        // An unlabelled metric always has its one series, 0 until it moves.
        if (!m.labelNames.length && !m.series.size) f.values.push({ labels: {}, value: 0 });
      }
      out.push(f);
    }
    return out;
  }

  /** Every series' value now, flat (for tests and the plugin testkit). */
  collect(): MetricSample[] {
    return this.families().flatMap((f) =>
      f.values.map((v) => ({
        name: v.metricName ?? f.name,
        help: f.help,
        type: f.type,
        value: v.value,
        ...(Object.keys(v.labels).length ? { labels: v.labels } : {}),
      })),
    );
  }

  private register(name: string, help: string, type: MetricType, labelNames: readonly string[], aggregator: MetricAggregator = 'sum'): Definition {
    if (!NAME.test(name)) throw new RangeError(`a metric name is lower-case letters, digits and _, starting with a letter: "${name}"`);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l === 'le') throw new RangeError(`metric ${name}: a label name is lower-case letters, digits and _ (and not "le"): "${l}"`);
    }
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type) throw new RangeError(`metric ${name} is already a ${existing.type}`);
      if (existing.labelNames.join() !== labelNames.join()) {
        throw new RangeError(`metric ${name} is already registered with labels [${existing.labelNames.join(', ')}], not [${labelNames.join(', ')}]`);
      }
      return existing;
    }
    const m: Definition = { help, type, aggregator, labelNames: [...labelNames], series: new Map() };
    this.metrics.set(name, m);
    return m;
  }

  private keyOf(name: string, m: Definition, labels: Readonly<Record<string, string>>): string {
    if (!m.labelNames.length) return '';
    let key = '';
    for (const l of m.labelNames) {
      const v = labels[l];
      if (typeof v !== 'string') throw new RangeError(`metric ${name}: label "${l}" needs a string value`);
      key += v + '\u0000';
    }
    return key;
  }

  private seriesOf(name: string, m: Definition, labels: Readonly<Record<string, string>>) {
    const key = this.keyOf(name, m, labels);
    let s = m.series.get(key);
    if (!s) m.series.set(key, (s = { labels: pick(labels, m.labelNames), value: 0 }));
    return s;
  }
}

/** The declared labels of `labels`, nothing else. */
function pick(labels: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (labels[n] !== undefined) out[n] = String(labels[n]);
  return out;
}

/** One metric's current value, as an exporter reads it. */
export interface MetricSample {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: number;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Counters and gauges of core and plugins, kept in memory per process. Plugins register theirs
 * through `ctx.metrics` (prefixed `rapport_plugin_<plugin>_`); exporters read {@link collect}.
 */
export class MetricsRegistry {
  private readonly metrics = new Map<string, { help: string; type: 'counter' | 'gauge'; value: number; collect?: () => number }>();

  /** A counter; registering the same name twice returns the same counter. */
  counter(name: string, help: string): { inc(by?: number): void } {
    const m = this.register(name, help, 'counter');
    return {
      inc(by = 1) {
        if (!(by >= 0)) throw new RangeError(`counter ${name} only goes up: inc(${by})`);
        m.value += by;
      },
    };
  }

  /** A gauge, set by its owner or read through `collect` when metrics are collected. */
  gauge(name: string, help: string, collect?: () => number): { set(value: number): void } {
    const m = this.register(name, help, 'gauge');
    if (collect) m.collect = collect;
    return {
      set(value: number) {
        m.value = value;
      },
    };
  }

  /** Every metric's value now (a `collect` that throws reports NaN). */
  collect(): MetricSample[] {
    return [...this.metrics].map(([name, m]) => {
      let value = m.value;
      if (m.collect) {
        try {
          value = m.collect();
        } catch {
          value = Number.NaN;
        }
      }
      return { name, help: m.help, type: m.type, value };
    });
  }

  private register(name: string, help: string, type: 'counter' | 'gauge') {
    if (!NAME.test(name)) throw new RangeError(`a metric name is lower-case letters, digits and _, starting with a letter: "${name}"`);
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type) throw new RangeError(`metric ${name} is already a ${existing.type}`);
      return existing;
    }
    const m = { help, type, value: 0 } as { help: string; type: 'counter' | 'gauge'; value: number; collect?: () => number };
    this.metrics.set(name, m);
    return m;
  }
}

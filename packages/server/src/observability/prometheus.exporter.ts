import cluster from 'node:cluster';
import type { MetricFamily, MetricsRegistry } from '@rapport/core/internal';
import { AggregatorRegistry, collectDefaultMetrics, Registry, type Metric } from 'prom-client';

/**
 * A prom-client registry holding Node's process metrics (`collectDefaultMetrics`) and, read at
 * each collection, every metric of core's {@link MetricsRegistry} (core, server and plugins):
 * prom-client renders the text format and aggregates a cluster's workers; the values live in one
 * place, core's registry.
 */
class RapportPromRegistry extends Registry {
  private families = new Map<string, MetricFamily>();

  constructor(private readonly source: MetricsRegistry, private readonly onRefreshError: (err: unknown) => void) {
    super();
    collectDefaultMetrics({ register: this });
  }

  /** Runs core's refreshers (queries behind gauges), then takes one snapshot of its metrics. */
  private async prepare(): Promise<void> {
    for (const err of await this.source.refresh()) this.onRefreshError(err);
    this.families = new Map(this.source.families().map((f) => [f.name, f]));
    for (const f of this.families.values()) {
      if (this.getSingleMetric(f.name)) continue;
      // prom-client reads `name`, `type` and `get()` of a registered metric: this one answers from
      // the snapshot, so one scrape reads core's values once, consistently.
      const name = f.name;
      const bridged = { name, type: f.type, aggregator: f.aggregator, get: async () => this.families.get(name) ?? { ...f, values: [] } };
      this.registerMetric(bridged as unknown as Metric);
    }
  }

  override async metrics(): Promise<string> {
    await this.prepare();
    return super.metrics();
  }

  override async getMetricsAsJSON(): ReturnType<Registry['getMetricsAsJSON']> {
    await this.prepare();
    return super.getMetricsAsJSON();
  }
}

/** What `/metrics` answers with: the text format and its content type. */
export interface MetricsExporter {
  contentType: string;
  /** This process's metrics, or, in a cluster worker, every worker's, aggregated by the primary. */
  scrape(): Promise<string>;
}

const ASK = 'rapport:metrics-req';
const ANSWER = 'rapport:metrics-res';
let askSeq = 0;

/**
 * The exporter of one server process. In a worker of `rapport start --workers n` (all sharing one
 * port, so a scrape lands on any of them), a scrape asks the primary, which collects every worker's
 * metrics through prom-client's `AggregatorRegistry` (counters and histograms summed; gauges read
 * from the database, such as delivery lag, take the max) and answers with the total.
 */
export function createMetricsExporter(source: MetricsRegistry, onRefreshError: (err: unknown) => void): MetricsExporter {
  const registry = new RapportPromRegistry(source, onRefreshError);
  const inCluster = cluster.isWorker && process.env.RAPPORT_CLUSTER_WORKER === '1' && typeof process.send === 'function';
  if (!inCluster) return { contentType: registry.contentType, scrape: () => registry.metrics() };
  // Answer the primary's collection requests with this registry (prom-client's worker side).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  return {
    contentType: registry.contentType,
    scrape: () =>
      new Promise<string>((resolve, reject) => {
        const id = `${process.pid}:${++askSeq}`;
        const timer = setTimeout(() => done(new Error('the cluster primary did not answer the metrics request in 10 s')), 10_000);
        const onMessage = (m: { type?: string; id?: string; text?: string; error?: string }) => {
          if (m?.type !== ANSWER || m.id !== id) return;
          done(m.error ? new Error(m.error) : null, m.text ?? '');
        };
        const done = (err: Error | null, text = '') => {
          clearTimeout(timer);
          process.off('message', onMessage);
          if (err) reject(err);
          else resolve(text);
        };
        process.on('message', onMessage);
        process.send!({ type: ASK, id });
      }),
  };
}

/**
 * The primary's side of {@link createMetricsExporter}: answers a worker's request with every
 * worker's metrics, aggregated. Call once in the primary, before forking.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, m: { type?: string; id?: string }) => {
    if (m?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id: m.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ type: ANSWER, id: m.id, error: err.message }),
    );
  });
}

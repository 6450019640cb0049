import type { Database } from '../database/database';
import type { DeliveryStatus } from '../delivery/delivery.types';
import { LATENCY_BUCKETS, type LabelledCounter, type MetricsRegistry } from './metrics.registry';

/**
 * Keeps a label's values bounded: the first `max` distinct values pass, later new ones become
 * `other`. For values that come from outside (a client's operation name, a rule name).
 */
export function boundedLabel(max: number, other = 'other'): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return other;
    seen.add(value);
    return value;
  };
}

/** What became of each message a request carried. */
export type IngestionOutcome = 'stored' | 'duplicate' | 'suppressed' | 'rejected' | 'failed';

/** Ingestion's counters: messages by outcome, and rejected ones by the rule they broke. */
export interface IngestionMetrics {
  messages: LabelledCounter<'outcome'>;
  /** Counts `n` rejected messages under `rule` (a validator rule name; at most 50 distinct, then `other`). */
  rejected(rule: string | undefined, n?: number): void;
}

/** Registers ingestion's counters. */
export function ingestionMetrics(registry: MetricsRegistry): IngestionMetrics {
  const messages = registry.labelledCounter(
    'rapport_ingestion_messages_total',
    'Tracking messages received (HTTP /v1 and GraphQL), by outcome: stored, duplicate (messageId seen before), suppressed (a deleted person\'s identity), rejected (invalid), failed (a database or server fault; the client is told to retry).',
    ['outcome'],
  );
  const rejected = registry.labelledCounter('rapport_ingestion_rejected_total', 'Tracking messages rejected, by the rule they broke (validator rule names, e.g. required, maxBytes, storable).', ['reason']);
  const reason = boundedLabel(50);
  return {
    messages,
    rejected(rule, n = 1) {
      rejected.inc({ reason: reason(rule && /^[A-Za-z_]{1,40}$/.test(rule) ? rule : 'invalid') }, n);
    },
  };
}

/** Registers the pool's gauges and its acquire-wait histogram for `db`. */
export function registerDatabaseMetrics(registry: MetricsRegistry, db: Database): void {
  registry.gauge('rapport_db_pool_connections', 'PostgreSQL connections open in this process\'s pool (busy and idle).', () => db.poolStats().total);
  registry.gauge('rapport_db_pool_idle_connections', 'Open pool connections not running anything.', () => db.poolStats().idle);
  registry.gauge('rapport_db_pool_waiting_requests', 'Callers waiting for a pool connection now.', () => db.poolStats().waiting);
  registry.gauge('rapport_db_pool_max_connections', 'The most connections the pool opens (database.poolSize).', () => db.poolStats().max);
  const wait = registry.histogram('rapport_db_pool_acquire_seconds', 'Time waited for a pool connection, in seconds; outcome "timeout" when none came in database.acquireTimeoutMs.', ['outcome'], LATENCY_BUCKETS);
  db.observeAcquire((seconds, ok) => wait.observe({ outcome: ok ? 'acquired' : 'timeout' }, seconds));
}

/** Event delivery's counters, per plugin (bounded: the installed plugins). */
export interface DeliveryMetrics {
  /** Changes handed to a plugin that it accepted. */
  delivered(plugin: string, n: number): void;
  /** A failed batch: `retry` (split or backed off) or `dead_letter`. */
  failed(plugin: string, outcome: 'retry' | 'dead_letter'): void;
  /** Time a plugin's delivery waited for requests (stepping back while the request path was saturated), in seconds. */
  steppedBack(plugin: string, seconds: number): void;
}

/**
 * Registers delivery's counters, and its lag gauges, read from the database before each collection
 * with `status` (one statement): the same figures for every process, so a cluster takes their max.
 */
export function deliveryMetrics(registry: MetricsRegistry, status: () => Promise<DeliveryStatus[]>): DeliveryMetrics {
  const delivered = registry.labelledCounter('rapport_delivery_changes_total', 'Changes (events, merges, consents) delivered to a plugin and accepted by it, in this process.', ['plugin']);
  const failures = registry.labelledCounter(
    'rapport_delivery_failures_total',
    'Batches a plugin failed on, in this process: outcome "retry" (split or retried later) or "dead_letter" (a change given up on).',
    ['plugin', 'outcome'],
  );
  const steppedBack = registry.labelledCounter(
    'rapport_delivery_step_back_seconds_total',
    "Time a plugin's delivery waited while behind, because this process's requests were in flight all the time (delivery.stepBackShare), in seconds.",
    ['plugin'],
  );
  const opts = { aggregator: 'max' as const };
  const lag = registry.labelledGauge('rapport_delivery_lag_changes', 'Changes committed and not yet delivered to the plugin (counted up to 100,000).', ['plugin'], opts);
  const lagSeconds = registry.labelledGauge('rapport_delivery_lag_seconds', 'Age of the oldest change not yet delivered to the plugin, in seconds (0 when none waits).', ['plugin'], opts);
  const dead = registry.labelledGauge('rapport_delivery_dead_letters', 'Dead letters of the plugin not replayed yet.', ['plugin'], opts);
  registry.beforeCollect(async () => {
    const all = await status();
    for (const s of all) {
      lag.set({ plugin: s.consumer }, s.lag);
      lagSeconds.set({ plugin: s.consumer }, s.lagSeconds);
      dead.set({ plugin: s.consumer }, s.deadLetters);
    }
  });
  return {
    delivered: (plugin, n) => delivered.inc({ plugin }, n),
    failed: (plugin, outcome) => failures.inc({ plugin, outcome }),
    steppedBack: (plugin, seconds) => steppedBack.inc({ plugin }, seconds),
  };
}

import type { Database } from '../database/database';
import type { DeliveryTransport } from './delivery-transport';

/** Settings of the plugins' event delivery. */
export interface DeliveryOptions {
  /** How often each process looks for changes other processes stored (ms; default 1,000). Its own commits wake it at once. */
  pollMs?: number;
  /** How long a process holds a consumer's cursor while it delivers a batch (ms; default 30,000). A crashed holder's lease runs out. */
  leaseMs?: number;
  /** First retry delay of a failing change (ms; default 500), doubled per try up to `maxBackoffMs` (default 60,000). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * While this process's request path is saturated (a request in flight at least 90% of the last half second,
   * {@link RequestLoad}) and a plugin is behind, the share of time its delivery runs (default 0.1; 1: deliveries never
   * step back). Ingestion then keeps its rate in a burst; the plugins catch up after it.
   */
  stepBackShare?: number;
  /**
   * Longest a plugin's delivery steps back while it stays behind (ms; default 30,000): past it, the delivery runs at
   * full speed until it has caught up, so in a long burst a plugin is at most about this late.
   */
  stepBackMaxMs?: number;
  /**
   * Where changes and consumers' positions live: a factory given core's database. Default:
   * PostgreSQL (the outbox, `PostgresDeliveryTransport`). A broker transport implements
   * `DeliveryTransport` (`@rapport/core/internal`); plugins do not change.
   */
  transport?: (db: Database) => DeliveryTransport;
}

import { Client } from 'pg';
import type { Logger } from '../logger/logger';

/** Options of {@link AvailabilityGate}. */
export interface AvailabilityGateOptions {
  url: string;
  /** Most time a probe may take (connect plus `SELECT 1`). */
  probeTimeoutMs: number;
  /** Time between probes while the database is down. */
  probeEveryMs: number;
  logger?: Logger;
}

/** Probes while the gate is open are at most this frequent (a long legitimate query asks often). */
const MIN_OPEN_PROBE_GAP_MS = 5_000;

/**
 * Whether the database is reachable, as a circuit breaker. A connection-level failure (refused,
 * terminated, no answer in time), or a query stalled for a while, starts a probe: a fresh
 * connection running `SELECT 1`, bounded by `probeTimeoutMs`. When the probe fails too, the gate
 * closes: requests then fail at once with 503 instead of each waiting for a connect or query
 * timeout against a server that is down or paused. (One session terminated by an administrator, or
 * a slow query, does not close it: the probe succeeds. A server that answers with an error, such as
 * "too many clients", is reachable.) While it is closed, a probe runs every `probeEveryMs`; the
 * first that succeeds opens the gate again. The pool reconnects by itself (dead connections are
 * dropped as they fail), so nothing else needs resetting.
 */
export class AvailabilityGate {
  private downSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<boolean> | null = null;
  private lastProbe = 0;
  private closed = false;
  private lastFailure: { code?: string; message?: string } | null = null;

  constructor(private readonly options: AvailabilityGateOptions) {}

  /** True while the database is believed reachable. */
  get up(): boolean {
    return this.downSince === null;
  }

  /** Records a connection-level failure: probes at once (unless one is running or the gate is already closed). */
  failed(err: unknown): void {
    if (this.closed || this.downSince !== null || this.probing) return;
    this.lastFailure = err as { code?: string; message?: string };
    void this.probe();
  }

  /**
   * Whether the server answers now: the running probe's answer, or a new probe's (at most one per
   * few seconds while the gate is open; the last known state otherwise).
   */
  check(): Promise<boolean> {
    if (this.probing) return this.probing;
    if (this.closed || this.downSince !== null || Date.now() - this.lastProbe < MIN_OPEN_PROBE_GAP_MS) return Promise.resolve(this.up);
    return this.probe();
  }

  /** Stops probing (the database is being closed). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probe();
    }, this.options.probeEveryMs);
    this.timer.unref();
  }

  private probe(): Promise<boolean> {
    if (this.closed) return Promise.resolve(this.up);
    this.probing ??= this.runProbe().finally(() => {
      this.probing = null;
      if (this.downSince !== null) this.schedule();
    });
    return this.probing;
  }

  private async runProbe(): Promise<boolean> {
    this.lastProbe = Date.now();
    const client = new Client({
      connectionString: this.options.url,
      application_name: 'rapport-probe',
      connectionTimeoutMillis: this.options.probeTimeoutMs,
      query_timeout: this.options.probeTimeoutMs,
    });
    client.on('error', () => undefined); // a failed probe is an answer, not a crash
    try {
      await client.connect();
      await client.query('SELECT 1');
      void client.end().catch(() => undefined);
      this.opened();
      return true;
    } catch (err) {
      // Drop the socket rather than wait for a goodbye a paused server never sends.
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      const code = (err as { code?: unknown }).code;
      // An SQLSTATE other than a shutdown's: the server answered, so it is reachable (and busy).
      if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('57P') && !code.startsWith('08')) {
        this.opened();
        return true;
      }
      if (this.downSince === null) {
        this.downSince = Date.now();
        const e = this.lastFailure ?? (err as { code?: string; message?: string });
        this.options.logger?.warn({ code: e?.code, reason: e?.message }, 'database unreachable: answering 503 until a probe succeeds');
      }
      return false;
    }
  }

  private opened(): void {
    if (this.downSince !== null) this.options.logger?.info({ downMs: Date.now() - this.downSince }, 'database reachable again');
    this.downSince = null;
    this.lastFailure = null;
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { hash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import type { Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../logger/logger';
import { coreEntities } from '../entity';
import { coreMigrations } from './migrations';
import { Notifications } from './notifications';
import { AvailabilityGate } from './availability.gate';
import { DatabaseUnavailableError, unavailability, unavailableReason } from './database-unavailable.error';

/** Something that runs SQL: the pool, or one transaction. */
export interface Queryable {
  /**
   * Runs one statement with positional parameters (`$1`, `$2`, ...). `options.prepare`: a hint that
   * this text is run often (a hot read): the pool may keep it as a prepared statement on each
   * connection (see {@link DatabaseOptions.preparedStatements}); others run it as any statement.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]>;
}

/** How to run one statement. */
export interface QueryOptions {
  /** The text is run often: keep it parsed and planned on each connection when allowed. */
  prepare?: boolean;
}

/**
 * At most this many statement texts are kept prepared (the first ones asked): each costs memory in
 * every pooled connection's backend for the connection's life, and the texts of a read depend on
 * what a query selects, which callers choose.
 */
export const MAX_PREPARED_STATEMENTS = 32;

/**
 * What PostgreSQL answers when a connection does not hold the prepared statements `pg` believes it
 * parsed there (a pooler in transaction mode handing the session another server connection, a
 * `DISCARD ALL` or `DEALLOCATE`): no such statement, one of that name already, or a different one's
 * parameters.
 */
const PREPARED_STATEMENT_LOST = new Set(['26000' /* invalid_sql_statement_name */, '42P05' /* duplicate_prepared_statement */, '08P01' /* protocol_violation */]);

/** Listener told of every SQL statement (tests count them; never used for logic). */
export type QueryListener = (sql: string) => void;

/**
 * Wraps the run of each statement (tracing: a span around it). Must call `run` once and return its
 * result or rethrow its error.
 */
export type StatementTracer = <T>(sql: string, run: () => Promise<T>) => Promise<T>;

/** The pool's connections now: open (`total`), idle, callers `waiting` for one, and the most it opens. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** A statement waiting this long makes the database check that the server still answers. */
const STALL_MS = 2_000;

// PostgreSQL error codes worth retrying a whole transaction for.
const RETRYABLE = new Set(['40P01' /* deadlock_detected */, '40001' /* serialization_failure */]);

class CountingLogger implements TypeOrmLogger {
  constructor(private readonly listeners: Set<QueryListener>, private readonly pino?: Logger) {}
  logQuery(query: string): void {
    for (const l of this.listeners) l(query);
  }
  logQueryError(error: string | Error, query: string): void {
    this.pino?.debug({ err: String(error), query }, 'sql error');
  }
  logQuerySlow(time: number, query: string): void {
    this.pino?.warn({ ms: time, query: query.slice(0, 500) }, 'slow sql');
  }
  logSchemaBuild(): void {}
  logMigration(message: string): void {
    this.pino?.info({ migration: message }, 'migration');
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.pino?.warn({ typeorm: message }, 'typeorm');
  }
}

/**
 * Bounds on waiting for PostgreSQL, in milliseconds (0 or absent: no bound). See
 * {@link DatabaseConfig} for what each one means and its default.
 */
export interface DatabaseTimeouts {
  /** Waiting for a pooled connection, or for a new one to connect (pg-pool `connectionTimeoutMillis`). */
  acquireTimeoutMs?: number;
  /** Server side: a statement running longer is cancelled (`statement_timeout`). */
  statementTimeoutMs?: number;
  /** Server side: a lock wait longer than this fails (`lock_timeout`). */
  lockTimeoutMs?: number;
  /** Client side: no answer from the server in this time fails the query and drops the connection (`query_timeout`). */
  queryTimeoutMs?: number;
}

export interface DatabaseOptions extends DatabaseTimeouts {
  url: string;
  poolSize?: number;
  /**
   * Connections the pool keeps once it has opened them, however long they sit idle (default: `poolSize`, a fixed
   * pool). Connections above it are closed after `idleTimeoutMs` idle. Values above `poolSize` keep every connection.
   */
  poolMin?: number;
  /** How long a connection above `poolMin` may sit idle before it is closed, in ms (default 10000; 0: never). */
  idleTimeoutMs?: number;
  /**
   * Whether statements run with `prepare` are kept as named prepared statements (default true).
   * Off behind a pooler in transaction mode that does not carry them across server connections.
   * When the server loses one anyway, the statement runs again unprepared and preparing stops.
   */
  preparedStatements?: boolean;
  /** Entities added by plugins. */
  entities?: MixedList<Function | string | EntitySchema>;
  /** Migrations added by plugins; run after the core ones, ordered by their timestamp. */
  migrations?: Function[];
  logger?: Logger;
}

/** `pg` connection settings for the timeouts that are set (0 or absent: left to PostgreSQL's defaults). */
function timeoutSettings(t: DatabaseTimeouts): Record<string, number> {
  const out: Record<string, number> = {};
  if (t.acquireTimeoutMs) out.connectionTimeoutMillis = t.acquireTimeoutMs;
  if (t.statementTimeoutMs) out.statement_timeout = t.statementTimeoutMs;
  if (t.lockTimeoutMs) out.lock_timeout = t.lockTimeoutMs;
  if (t.queryTimeoutMs) out.query_timeout = t.queryTimeoutMs;
  return out;
}

/**
 * The database: a TypeORM DataSource over `pg` (entities and migrations for core and plugins,
 * `synchronize` never), plus the few helpers the hot paths need: plain SQL, transactions that
 * retry on deadlock, and a statement counter for tests.
 *
 * Faults: no database error ever escapes as an unhandled `error` event (a connection checked out
 * for a transaction listens for its own death); errors that mean the database cannot serve now
 * (unreachable, terminated, timed out) are thrown as {@link DatabaseUnavailableError} (HTTP 503 with
 * `Retry-After`), and a connection-level failure closes an {@link AvailabilityGate} so that later
 * calls fail at once until a probe finds the server again. Every wait is bounded by the
 * {@link DatabaseTimeouts} given.
 */
export class Database implements Queryable {
  readonly dataSource: DataSource;
  private readonly listeners = new Set<QueryListener>();
  private notifier: Notifications | null = null;
  private readonly gate: AvailabilityGate;
  /** Connections running a statement, and since when. */
  private readonly running = new Map<PoolClient, number>();
  /** Texts kept as prepared statements, with their names (see {@link preparedName}). */
  private readonly prepared = new Map<string, string>();
  /** Set when the server lost a prepared statement (see {@link stopPreparing}). */
  private preparingStopped = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private tracer: StatementTracer | null = null;
  private acquireObserver: ((seconds: number, ok: boolean) => void) | null = null;
  /** Set while work started with {@link ahead} runs. */
  private readonly lane = new AsyncLocalStorage<true>();

  constructor(private readonly options: DatabaseOptions) {
    this.dataSource = this.source({
      max: options.poolSize ?? 10,
      // A fixed pool by default: pg-pool hands out its most recently used idle connection, so under steady traffic
      // the ones a burst opened sit idle and were closed after 10 s, then opened again (a backend started, a SCRAM
      // exchange, its caches and prepared statements warmed) by the next burst. See DatabaseOptions.poolMin.
      min: options.poolMin ?? options.poolSize ?? 10,
      idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
      application_name: 'rapport',
      // Notice a peer that vanished without a goodbye (failover, a cut network) on idle connections.
      keepAlive: true,
      ...timeoutSettings(options),
    });
    const probeTimeoutMs = Math.min(options.acquireTimeoutMs || 3000, 3000);
    this.gate = new AvailabilityGate({ url: options.url, probeTimeoutMs, probeEveryMs: 1000, logger: options.logger });
  }

  private source(extra: Record<string, unknown>): DataSource {
    return new DataSource({
      type: 'postgres',
      url: this.options.url,
      entities: [...coreEntities, ...((this.options.entities as Function[]) ?? [])],
      migrations: [...coreMigrations, ...(this.options.migrations ?? [])],
      migrationsTableName: 'rapport_migrations',
      synchronize: false,
      logging: ['query', 'error', 'warn', 'migration'],
      maxQueryExecutionTime: 2000,
      logger: new CountingLogger(this.listeners, this.options.logger),
      // The pool raises errors of idle connections (a restart terminates them): they are dropped
      // and replaced on demand, which is all there is to do.
      poolErrorHandler: (err: Error) => this.options.logger?.warn({ code: (err as { code?: string }).code, reason: err.message }, 'idle database connection lost'),
      extra,
    });
  }

  /** True while the database is believed reachable (false from a connection failure until a probe succeeds). */
  get available(): boolean {
    return this.gate.up;
  }

  /** Connects and applies pending migrations (core, then plugins). */
  async connect(options: { migrate?: boolean } = {}): Promise<void> {
    await this.dataSource.initialize();
    this.guardClients();
    if (options.migrate !== false) await this.migrate();
  }

  /**
   * Gives every pooled connection a permanent error listener. pg-pool removes its own listener when
   * it hands a connection out, and resolves the checkout a microtask later; when PostgreSQL's
   * "ready" and a termination (`pg_terminate_backend`, a restart) arrive in one network read, the
   * error is emitted in between, with no listener, and would end the process. What such a
   * connection broke is found at checkout ({@link checkout} drops connections that are not
   * queryable).
   */
  private guardClients(): void {
    const pool = this.pool as Pool & { _clients?: PoolClient[] };
    const guard = (client: PoolClient) => {
      client.on('error', (err: Error) => this.options.logger?.debug({ code: (err as { code?: string }).code }, 'database connection error'));
    };
    for (const c of pool._clients ?? []) guard(c);
    pool.on('connect', guard);
  }

  /**
   * Applies pending migrations, each in its own transaction. Returns the names applied. They run on
   * a connection of their own without the statement and query timeouts: a migration may
   * legitimately run for minutes (an index on a large table).
   */
  async migrate(): Promise<string[]> {
    const source = this.source({ max: 1, application_name: 'rapport-migrate', ...(this.options.acquireTimeoutMs ? { connectionTimeoutMillis: this.options.acquireTimeoutMs } : {}) });
    await source.initialize();
    try {
      const done = await source.runMigrations({ transaction: 'each' });
      return done.map((m) => m.name);
    } finally {
      await source.destroy();
    }
  }

  /** The `pg` pool TypeORM opened; core runs its SQL on it directly (plain rows, no ORM result shapes). */
  private get pool(): Pool {
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) throw new Error('the database is not connected');
    return pool;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]> {
    for (const l of this.listeners) l(sql);
    let name = options?.prepare ? this.preparedName(sql) : undefined;
    for (;;) {
      const c = await this.checkout();
      let discard: Error | false = false;
      try {
        return (await this.run(c.client, sql, params, name)).rows as T[];
      } catch (err) {
        if (name && PREPARED_STATEMENT_LOST.has((err as { code?: string }).code ?? '')) {
          // The server does not hold what `pg` believes it prepared on this connection: drop the connection (its
          // cache of parsed names is wrong), stop preparing, and run the statement again as a plain one.
          discard = err as Error;
          this.stopPreparing(err as Error);
          name = undefined;
          continue;
        }
        const dead = c.lost() ?? (unavailability(err) === 'connection' ? (err as Error) : null);
        if (dead) discard = dead;
        throw this.translate(unavailability(err) ? err : (dead ?? err));
      } finally {
        c.release(discard);
      }
    }
  }

  /** Turns prepared statements off for the life of this pool, once, with a warning that says how to keep them off. */
  private stopPreparing(err: Error): void {
    if (this.preparingStopped) return;
    this.preparingStopped = true;
    this.options.logger?.warn(
      { code: (err as { code?: string }).code, reason: err.message },
      'prepared statements turned off: the database did not keep one on its connection (a pooler in transaction mode?); set database.preparedStatements: false to start without them',
    );
  }

  /**
   * Runs `work` in one transaction. On deadlock or serialization failure the whole transaction
   * is retried (up to `retries` times, with jitter); any other error rolls back and propagates.
   * Inside `work`, driver errors arrive as they are (SQLSTATE in `code`); out of the transaction,
   * one that means the database is unavailable becomes a {@link DatabaseUnavailableError}.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>, retries = 5): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.checkout();
      const client = c.client;
      const tx: Queryable = {
        query: async <R>(sql: string, params?: unknown[]) => {
          for (const l of this.listeners) l(sql);
          return (await this.run(client, sql, params)).rows as R[];
        },
      };
      let discard: Error | false = false;
      try {
        await this.run(client, 'BEGIN');
        const result = await work(tx);
        await this.run(client, 'COMMIT');
        return result;
      } catch (err) {
        const dead = c.lost() ?? (unavailability(err) === 'connection' ? (err as Error) : null);
        if (dead) {
          discard = dead; // no ROLLBACK on a dead connection: PostgreSQL rolls back when it goes
        } else {
          await this.run(client, 'ROLLBACK').catch((e: Error) => {
            discard = e;
          });
        }
        const code = (err as { code?: string }).code;
        if (!dead && code && RETRYABLE.has(code) && attempt < retries) {
          c.release(discard);
          discard = false;
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        throw this.translate(unavailability(err) ? err : (dead ?? err));
      } finally {
        c.release(discard);
      }
    }
  }

  /**
   * A pooled connection, with an error listener for as long as it is checked out: pg-pool removes
   * its own from a checked-out client, and without one a connection that dies while idle in a
   * transaction (a restart, pg_terminate_backend) raises an unhandled 'error' event that takes the
   * process down. `release(err)` hands it back, or drops it when given the error that killed it.
   */
  private async checkout(): Promise<{ client: PoolClient; lost(): Error | null; release(discard: Error | false): void }> {
    this.mustBeAvailable();
    let client: PoolClient;
    for (let attempt = 0; ; attempt++) {
      const t0 = this.acquireObserver ? performance.now() : 0;
      try {
        const queued = this.lane.getStore() ? this.waiting().length : -1;
        const pending = this.pool.connect();
        // pg-pool queued this caller last (it had no free connection): move it to the front.
        if (queued >= 0 && this.waiting().length > queued) this.waiting().unshift(this.waiting().pop());
        client = await pending;
      } catch (err) {
        this.acquireObserver?.((performance.now() - t0) / 1000, false);
        throw this.translate(err);
      }
      this.acquireObserver?.((performance.now() - t0) / 1000, true);
      // A connection that died between the pool's hand-over and now cannot run anything: drop it.
      if ((client as unknown as { _queryable?: boolean })._queryable !== false) break;
      client.release(new Error('connection lost before use'));
      if (attempt >= 2) throw this.translate(Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' }));
    }
    let lost: Error | null = null;
    const onError = (err: Error) => {
      lost ??= err;
    };
    client.on('error', onError);
    let released = false;
    return {
      client,
      lost: () => lost,
      release: (discard) => {
        if (released) return;
        released = true;
        client.removeListener('error', onError);
        this.running.delete(client);
        client.release(discard || lost || undefined);
      },
    };
  }

  /** pg-pool's queue of callers waiting for a connection (first served first). */
  private waiting(): unknown[] {
    const queue = (this.pool as Pool & { _pendingQueue?: unknown[] })._pendingQueue;
    return Array.isArray(queue) ? queue : [];
  }

  /**
   * The prepared statement's name for a text asked to be prepared: one per text, for the first
   * {@link MAX_PREPARED_STATEMENTS} texts; none (run unprepared) past them or when turned off.
   */
  private preparedName(sql: string): string | undefined {
    if (this.options.preparedStatements === false || this.preparingStopped) return undefined;
    let name = this.prepared.get(sql);
    if (name === undefined && this.prepared.size < MAX_PREPARED_STATEMENTS) {
      // Named by the text, not by the order this process met it: two processes that share a server session (cluster
      // workers behind a session pooler) never give one name to two texts.
      name = `rapport_${hash('sha256', sql).slice(0, 24)}`;
      this.prepared.set(sql, name);
    }
    return name;
  }

  /**
   * One statement on a checked-out connection, tracked so that a stalled server is noticed. With a
   * `name`, a named prepared statement: `pg` parses it once per connection, and PostgreSQL plans it
   * once per connection when its plan does not depend on the values (a generic plan after five runs).
   */
  private async run(client: PoolClient, sql: string, params?: unknown[], name?: string) {
    this.running.set(client, Date.now());
    this.watchStalls();
    try {
      const send = name ? () => client.query({ name, text: sql, values: params as unknown[] }) : () => client.query(sql, params as unknown[]);
      if (this.tracer) return await this.tracer(sql, send);
      return await send();
    } finally {
      this.running.delete(client);
    }
  }

  /**
   * While statements run, checks every second for one waiting longer than {@link STALL_MS}. Then a
   * probe asks whether the server answers at all; when it does not (paused, a dead network path),
   * the gate closes and the stalled connections are dropped, so their requests answer 503 now
   * rather than at the query timeout. A slow query on a live server changes nothing.
   */
  private watchStalls(): void {
    if (this.stallTimer) return;
    this.stallTimer = setInterval(() => {
      if (!this.running.size) {
        clearInterval(this.stallTimer!);
        this.stallTimer = null;
        return;
      }
      const now = Date.now();
      if (![...this.running.values()].some((t) => now - t > STALL_MS)) return;
      void this.gate.check().then((reachable) => {
        if (reachable) return;
        for (const [client, since] of this.running) {
          if (Date.now() - since <= STALL_MS) continue;
          this.options.logger?.warn({ waitedMs: Date.now() - since }, 'dropping a database connection stalled on an unreachable server');
          (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
      });
    }, 1000);
    this.stallTimer.unref();
  }

  /**
   * Runs `work` with its pooled connections taken ahead of callers already waiting for one: plugins' event delivery,
   * one round at a time per plugin (a few connections at most). Without it, under a burst of requests every statement of
   * a delivery round waited behind all of them (about 1.5 s each, 100 requests queued, in
   * bench/journeys-stages.bench.mjs) and delivery fell seconds behind.
   */
  ahead<T>(work: () => Promise<T>): Promise<T> {
    return this.lane.run(true, work);
  }

  /** Connections of the pool now (zeros before it is connected). */
  poolStats(): PoolStats {
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0, max: this.options.poolSize ?? 10 };
  }

  /** Wraps every statement run through this database (query, transaction) in `tracer`; null removes it. */
  traceStatements(tracer: StatementTracer | null): void {
    this.tracer = tracer;
  }

  /** Told how long each checkout of a pooled connection waited, in seconds, and whether it got one. */
  observeAcquire(observer: ((seconds: number, ok: boolean) => void) | null): void {
    this.acquireObserver = observer;
  }

  /** Fails at once while the availability gate is closed. */
  private mustBeAvailable(): void {
    if (!this.gate.up) throw new DatabaseUnavailableError('unreachable');
  }

  /** A driver error that means "not now" becomes a {@link DatabaseUnavailableError}; others pass unchanged. */
  private translate(err: unknown): unknown {
    const kind = unavailability(err);
    if (!kind) return err;
    if (err instanceof DatabaseUnavailableError) return err;
    if (kind === 'connection') this.gate.failed(err);
    return new DatabaseUnavailableError(unavailableReason(err), err);
  }

  /**
   * LISTEN/NOTIFY between server processes (one extra connection, opened on the first `listen`).
   * Caches use it to drop what another process changed.
   */
  get notifications(): Notifications {
    this.notifier ??= new Notifications(this.options.url, (sql, params) => this.query(sql, params), this.options.logger);
    return this.notifier;
  }

  /** Registers a listener told of every statement; returns a function that removes it. */
  onQuery(listener: QueryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Closes the listening connection and the pool. Waits for connections still checked out at most
   * `graceMs` (a shutdown must not hang on a statement stuck behind a lock); the rest are dropped
   * when PostgreSQL ends their sessions.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.gate.close();
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
    await this.notifier?.close();
    if (!this.dataSource.isInitialized) return;
    let timer: NodeJS.Timeout | undefined;
    const destroyed = this.dataSource.destroy().then(
      () => true,
      (err: unknown) => (this.options.logger?.warn({ err }, 'closing the database pool failed'), true),
    );
    const waited = await Promise.race([destroyed, new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(timer);
    if (!waited) this.options.logger?.warn({ graceMs }, 'database connections still busy at shutdown; not waiting for them');
  }
}

import type { Pool, PoolClient } from 'pg';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import type { Logger as TypeOrmLogger } from 'typeorm';
import type { Logger } from '../logger/logger';
import { coreEntities } from '../entity';
import { coreMigrations } from './migrations';
import { Notifications } from './notifications';

/** Something that runs SQL: the pool, or one transaction. */
export interface Queryable {
  /** Runs one statement with positional parameters (`$1`, `$2`, ...). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Listener told of every SQL statement (tests count them; never used for logic). */
export type QueryListener = (sql: string) => void;

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

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  /** Entities added by plugins. */
  entities?: MixedList<Function | string | EntitySchema>;
  /** Migrations added by plugins; run after the core ones, ordered by their timestamp. */
  migrations?: Function[];
  logger?: Logger;
}

/**
 * The database: a TypeORM DataSource over `pg` (entities and migrations for core and plugins,
 * `synchronize` never), plus the few helpers the hot paths need: plain SQL, transactions that
 * retry on deadlock, and a statement counter for tests.
 */
export class Database implements Queryable {
  readonly dataSource: DataSource;
  private readonly listeners = new Set<QueryListener>();
  private notifier: Notifications | null = null;

  constructor(private readonly options: DatabaseOptions) {
    this.dataSource = new DataSource({
      type: 'postgres',
      url: options.url,
      entities: [...coreEntities, ...((options.entities as Function[]) ?? [])],
      migrations: [...coreMigrations, ...(options.migrations ?? [])],
      migrationsTableName: 'rapport_migrations',
      synchronize: false,
      logging: ['query', 'error', 'warn', 'migration'],
      maxQueryExecutionTime: 2000,
      logger: new CountingLogger(this.listeners, options.logger),
      extra: { max: options.poolSize ?? 10, application_name: 'rapport' },
    });
  }

  /** Connects and applies pending migrations (core, then plugins). */
  async connect(options: { migrate?: boolean } = {}): Promise<void> {
    await this.dataSource.initialize();
    if (options.migrate !== false) await this.migrate();
  }

  /** Applies pending migrations, each in its own transaction. Returns the names applied. */
  async migrate(): Promise<string[]> {
    const done = await this.dataSource.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  }

  /** The `pg` pool TypeORM opened; core runs its SQL on it directly (plain rows, no ORM result shapes). */
  private get pool(): Pool {
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) throw new Error('the database is not connected');
    return pool;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    for (const l of this.listeners) l(sql);
    return (await this.pool.query(sql, params as unknown[])).rows as T[];
  }

  /**
   * Runs `work` in one transaction. On deadlock or serialization failure the whole transaction
   * is retried (up to `retries` times, with jitter); any other error rolls back and propagates.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>, retries = 5): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client: PoolClient = await this.pool.connect();
      const tx: Queryable = {
        query: async <R>(sql: string, params?: unknown[]) => {
          for (const l of this.listeners) l(sql);
          return (await client.query(sql, params as unknown[])).rows as R[];
        },
      };
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < retries) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
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

  async close(): Promise<void> {
    await this.notifier?.close();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

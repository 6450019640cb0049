/** Where the data lives. */
export interface DatabaseConfig {
  /** A PostgreSQL (>= 14) connection string. When absent, an embedded PostgreSQL is started. */
  url?: string;
  /** Embedded PostgreSQL settings, used when `url` is absent. */
  embedded: { dataDir: string; port: number };
  /** Most connections in the pool (`RAPPORT_PG_POOL`, default 10). */
  poolSize: number;
  /**
   * Connections the pool keeps open once it has opened them (`RAPPORT_PG_POOL_MIN`; default: `poolSize`, a fixed
   * pool). Connections above it are closed after `idleTimeoutMs` idle; values above `poolSize` keep every connection.
   */
  poolMin?: number;
  /**
   * How long a connection above `poolMin` may sit idle before it is closed (ms; `RAPPORT_PG_IDLE_TIMEOUT_MS`,
   * default 10000; 0: never).
   */
  idleTimeoutMs: number;
  /**
   * Longest wait for a connection: a free one from the pool, or a new one to connect (ms;
   * `RAPPORT_PG_ACQUIRE_TIMEOUT_MS`, default 5000). Past it the request answers 503 with `Retry-After`.
   */
  acquireTimeoutMs: number;
  /**
   * PostgreSQL's `statement_timeout` for the server's connections (ms; `RAPPORT_PG_STATEMENT_TIMEOUT_MS`,
   * default 10000; 0 for none). A statement running longer is cancelled and the request answers 503.
   * Migrations and the CLI's `resolve` and `train` run without it.
   */
  statementTimeoutMs: number;
  /**
   * PostgreSQL's `lock_timeout` (ms; `RAPPORT_PG_LOCK_TIMEOUT_MS`, default 0: lock waits are bounded by
   * `statementTimeoutMs` only). Lower it to fail lock waits sooner than other work.
   */
  lockTimeoutMs: number;
  /**
   * Client-side bound on one query's answer (ms; `RAPPORT_PG_QUERY_TIMEOUT_MS`, default 12000; 0 for
   * none): the backstop for a server that stopped answering (paused, a half-open connection), where
   * `statement_timeout` cannot fire. Keep it above `statementTimeoutMs`.
   */
  queryTimeoutMs: number;
  /**
   * Keep the hottest reads (the profile bundle) as named prepared statements on each connection
   * (default true; at most 32 texts). Turn off behind a pooler in transaction mode that does not carry
   * them across server connections (PgBouncer before 1.21, or later without `max_prepared_statements`).
   * When the server loses one, the statement is run again unprepared and preparing stops, with a warning.
   */
  preparedStatements: boolean;
}

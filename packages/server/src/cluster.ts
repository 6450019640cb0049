import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { serveClusterMetrics } from './observability/prometheus.exporter';
import { createRapport, resolveConfig, startEmbeddedPostgres, type Database, type EmbeddedPostgresHandle, type Logger, type RapportConfigInput } from '@rapport/core/internal';

/** What the primary tells about the running cluster. */
export interface ClusterHandle {
  /** The URL the workers share. */
  url: string;
  /** The database URL they use (the embedded PostgreSQL's when none was configured). */
  databaseUrl: string;
  workers: number;
  /**
   * Stops the workers (SIGTERM: each finishes its requests in flight within the shutdown grace
   * period, then closes its pool; SIGKILL after `graceMs`), then the embedded PostgreSQL.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * On the first SIGINT or SIGTERM: logs `message`, runs `close` (errors are logged), exits 0.
 * Later signals are ignored while it closes. `close` is expected to bound its own waits (the
 * server's grace period); past `deadlineMs` the process exits 1 regardless, so a stop never hangs.
 */
export function closeOnSignal(close: () => Promise<void>, logger: Logger, message: string, deadlineMs = 60_000): void {
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal, pid: process.pid }, message);
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, deadlineMs).unref();
    const ok = await close().then(
      () => true,
      (err: unknown) => (logger.error({ err }, 'shutdown failed'), false),
    );
    logger.info({ pid: process.pid, clean: ok }, 'stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * A server process stays up on a promise nobody awaited that rejects (a database error in some
 * background work, say): it is logged, not a crash that would drop every request in flight.
 */
export function logUnhandledRejections(logger: Logger): void {
  process.on('unhandledRejection', (reason: unknown) => {
    const e = reason as { name?: string; code?: string; message?: string };
    logger.error({ name: e?.name, code: e?.code, reason: e?.message }, 'unhandled promise rejection; still running');
  });
}

/** Parses `--workers`/`RAPPORT_WORKERS`: a count, or `auto` for one per CPU. */
export function workerCount(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return Math.max(1, os.availableParallelism());
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`workers must be an integer from 1 to 256 or "auto", got "${value}"`);
  return n;
}

/** PostgreSQL connections one worker may hold: its pool, the listening connection, and three while it trains. */
export function connectionsPerWorker(poolSize: number): number {
  return poolSize + 4;
}

/** Connections the database can still give (max_connections less the superuser reserve and those in use). */
async function freeConnections(db: Database): Promise<{ free: number; max: number }> {
  const [r] = await db.query<{ max: number; reserved: number; used: number }>(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('superuser_reserved_connections')::int + COALESCE(current_setting('reserved_connections', true), '0')::int AS reserved,
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int AS used`,
  );
  return { free: Math.max(0, r.max - r.reserved - r.used), max: r.max };
}

/**
 * Runs the server in `workers` processes sharing one port (Node's cluster module; connections are
 * spread round-robin). The primary serves nothing: it starts the embedded PostgreSQL when no
 * `database.url` is configured, applies migrations once, forks the workers with the database URL,
 * and restarts a worker that dies (after a second). Every worker is a full server: in-memory
 * state (API-key cache, rate-limit counters, plugin caches) is per process, and plugins keep theirs
 * consistent through PostgreSQL notifications (see docs/architecture.md, Scale-out).
 *
 * Call from the primary; the workers run the same entry script, which must call
 * {@link runClusterWorker} when `cluster.isWorker`.
 *
 * Each worker may hold {@link connectionsPerWorker} PostgreSQL connections. With `auto` (a count
 * derived from the CPUs rather than asked for) the count is lowered to what the database's free
 * connections allow, with a warning; an explicit count that may not fit is only warned about.
 */
export async function startCluster(config: RapportConfigInput, workers: number, logger: Logger, opts: { auto?: boolean } = {}): Promise<ClusterHandle> {
  let embedded: EmbeddedPostgresHandle | undefined;
  const resolved = resolveConfig(config);
  let databaseUrl = resolved.database.url;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ ...resolved.database.embedded, logger });
    databaseUrl = embedded.url;
  }
  try {
    // Migrations once, here, before any worker starts (workers skip them).
    const core = await createRapport({ ...config, logger, database: { ...config.database, url: databaseUrl } });
    try {
      const { free, max } = await freeConnections(core.db).catch((err: unknown) => {
        logger.warn({ err }, 'could not read how many connections PostgreSQL has free; starting the workers asked for');
        return { free: Number.POSITIVE_INFINITY, max: Number.NaN };
      });
      const each = connectionsPerWorker(resolved.database.poolSize);
      const fit = Math.floor(free / each);
      if (workers > fit) {
        const asked = workers;
        if (opts.auto) workers = Math.max(1, fit);
        logger.warn(
          { asked, workers, connectionsPerWorker: each, freeConnections: free, maxConnections: max },
          opts.auto
            ? 'fewer workers than CPUs: PostgreSQL does not have the connections for more (lower RAPPORT_PG_POOL or raise max_connections)'
            : 'these workers may run out of PostgreSQL connections (lower --workers or RAPPORT_PG_POOL, or raise max_connections)',
        );
      }
    } finally {
      await core.close();
    }
  } catch (err) {
    await embedded?.stop();
    throw err;
  }

  let stopping = false;
  const live = new Set<Worker>();
  let url = '';
  let earlyDeaths = 0;
  let firstReady: (u: string) => void;
  let firstFailed: (e: Error) => void;
  const ready = new Promise<string>((res, rej) => ((firstReady = res), (firstFailed = rej)));
  const fork = (): void => {
    const w = cluster.fork({ DATABASE_URL: databaseUrl, RAPPORT_CLUSTER_WORKER: '1' });
    live.add(w);
    w.on('message', (m: { ready?: string; error?: string }) => {
      if (m.ready) firstReady(m.ready);
      if (m.error) firstFailed(new Error(m.error));
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      if (stopping) return;
      if (!url && ++earlyDeaths >= workers * 3) {
        firstFailed(new Error(`workers keep dying before serving (${earlyDeaths} exits; last code ${code}, signal ${signal})`));
        return;
      }
      logger.error({ pid: w.process.pid, code, signal }, 'worker died; starting another in 1 s');
      setTimeout(() => !stopping && fork(), 1000).unref();
    });
  };
  // A scrape of /metrics on any worker is answered with every worker's metrics, collected here.
  serveClusterMetrics();
  for (let i = 0; i < workers; i++) fork();
  try {
    url = await ready;
  } catch (err) {
    stopping = true;
    for (const w of live) w.process.kill('SIGKILL');
    await embedded?.stop();
    throw err;
  }
  return {
    url,
    databaseUrl,
    workers,
    async stop(graceMs = 10_000) {
      stopping = true;
      await Promise.all(
        [...live].map(
          (w) =>
            new Promise<void>((res) => {
              const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs);
              w.once('exit', () => (clearTimeout(kill), res()));
              w.process.kill('SIGTERM');
            }),
        ),
      );
      await embedded?.stop();
    },
  };
}

/**
 * The worker side: starts one server (no migrations: the primary ran them), tells the primary its
 * URL, and closes cleanly on SIGTERM/SIGINT.
 */
export async function runClusterWorker(
  config: RapportConfigInput & { port?: number; host?: string },
  start: (config: RapportConfigInput & { port?: number; host?: string }) => Promise<{ url: string; close(): Promise<void> }>,
  logger: Logger,
): Promise<void> {
  try {
    const server = await start({ ...config, logger, database: { ...config.database, url: process.env.DATABASE_URL } });
    process.send?.({ ready: server.url });
    logUnhandledRejections(logger);
    closeOnSignal(() => server.close(), logger, 'worker shutting down', resolveConfig(config).api.shutdownGraceMs + 30_000);
  } catch (err) {
    // Exit once the primary has the message (it would be lost by an immediate exit).
    if (process.send) process.send({ error: (err as Error).stack ?? String(err) }, () => process.exit(1));
    else process.exit(1);
  }
}



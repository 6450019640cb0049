import { randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '@rapport/testing';
import { PostgresProcess } from '../../../core/src/database/postgres-process';

/** A PostgreSQL cluster of one test's own, which the test may stop, start, pause and resume. */
export interface PrivatePostgres {
  /** Connection string to its `rapport` database. */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/**
 * Initialises and starts a throwaway cluster (the embedded binaries) on a free loopback port, so a
 * test can take the database away without touching the PostgreSQL the rest of the run shares.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = path.join(os.tmpdir(), `rapport-fault-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(dir, { mode: 0o755 });
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const pg = new PostgresProcess({ dataDir: path.join(dir, 'pgdata'), port, user: 'rapport', password, settings: { fsync: 'off', max_connections: '100' } });
  await pg.initialise();
  await pg.start();
  const base = `postgres://rapport:${password}@127.0.0.1:${port}`;
  const admin = new Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE rapport');
  await admin.end();
  let paused: number[] = [];
  // The postmaster and every backend it forked (as `docker pause` would): with the postmaster alone
  // stopped, open connections would still be answered.
  const tree = (): number[] => (pg.pid ? [pg.pid, ...childrenOf(pg.pid)] : []);
  return {
    url: `${base}/rapport`,
    stop: () => pg.stop(),
    start: () => pg.start(),
    pause() {
      paused = tree();
      for (const pid of paused) process.kill(pid, 'SIGSTOP');
    },
    resume() {
      for (const pid of paused) signal(pid, 'SIGCONT');
      paused = [];
    },
    async destroy() {
      for (const pid of paused) signal(pid, 'SIGCONT');
      await pg.stop(5_000);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Direct children of a process (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fsSync.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fsSync.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

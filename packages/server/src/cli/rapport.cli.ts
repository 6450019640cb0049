import fs from 'node:fs';
import path from 'node:path';
import { createLogger, createRapport, logLevelFromEnv, type Logger, type RapportConfigInput } from '@rapport/core/internal';
import pino from 'pino';
import { loadConfig, type LoadedConfig } from '../config/load-config';
import { startServer } from '../server';
import cluster from 'node:cluster';
import { closeOnSignal, logUnhandledRejections, runClusterWorker, startCluster, workerCount } from '../cluster';
import { parseCommandLine, UsageError, type CliArgs } from './cli-args';
import { mainHelp } from './cli-commands';
import { locateDatabase } from './database-guard';

/** The version of `@rapport/server`, which `rapport --version` prints. */
function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The configuration for long batch commands (migrate, train, resolve): no statement or query timeout. */
function untimed(config: RapportConfigInput): RapportConfigInput {
  return { ...config, database: { ...config.database, statementTimeoutMs: 0, queryTimeoutMs: 0 } };
}

/**
 * A logger on stderr at `RAPPORT_LOG_LEVEL` (or `LOG_LEVEL`; default `warn`), so stdout carries only a
 * command's answer (a key, a list) and stderr only its human lines unless something goes wrong.
 */
function stderrLogger(level = logLevelFromEnv('warn')): Logger {
  return createLogger({ level }, pino.destination(2));
}

/**
 * Loads and checks the configuration, and finds the database (DATABASE_URL or an existing embedded
 * one; a new one only with `--create`, said on stderr).
 */
function prepare(args: CliArgs): LoadedConfig {
  const loaded = loadConfig();
  // Commands that only read (resolve, train) have no --create: a new database has nothing for them.
  const hint = 'create' in args.command.options ? `rapport ${args.argv.join(' ')} --create` : 'rapport migrate --create (then load data)';
  const creating = locateDatabase(loaded.resolved, args.values.create === true, hint);
  if (creating) process.stderr.write(`rapport ${args.command.name}: creating a new embedded PostgreSQL database at ${creating} (--create)\n`);
  return loaded;
}

/**
 * Runs the CLI; resolves to the exit code: 0 done, 1 failed (a configuration problem, no database,
 * an error), 2 a command line that cannot run (an unknown command or option, a missing argument).
 */
export async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'version') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (parsed.kind === 'help') {
      process.stdout.write(`${parsed.command && parsed.command.name !== 'help' ? parsed.command.help : mainHelp()}\n`);
      return 0;
    }
    args = parsed.args;
    if (args.command.name === 'keys') checkKeysUsage(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message.startsWith('rapport') ? '' : 'rapport: '}${err.message}\n(${err.hint})\n`);
    return 2;
  }
  const name = args.command.name;
  try {
    switch (name) {
      case 'start':
        return await start(args);
      case 'migrate':
        return await migrate(args);
      case 'keys':
        return await keys(args);
      case 'resolve':
        return await resolve(args);
      default:
        return await train(args);
    }
  } catch (err) {
    // A ConfigError lists every problem with its fix; a NoDatabaseError says where it looked.
    process.stderr.write(`rapport ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

/** `keys` needs a subcommand, and `create` a role: refused before any database is touched. */
function checkKeysUsage(args: CliArgs): void {
  const [sub, id] = args.positionals;
  const hint = 'rapport keys --help shows its usage';
  if (sub === 'create' && !(args.values.role as string[] | undefined)?.length) {
    throw new UsageError('rapport keys create: --role is required (admin, app, ingest, metrics, or a configured or plugin role); repeat it for several', hint);
  }
  if (sub === 'revoke' && !id) throw new UsageError('rapport keys revoke: the id of the key is missing: rapport keys revoke <id>', hint);
  if (sub !== 'create' && sub !== 'revoke' && sub !== 'list') {
    throw new UsageError(`rapport keys: ${sub ? `unknown subcommand "${sub}"` : 'a subcommand is missing'}: create, list or revoke`, hint);
  }
  if (sub !== 'revoke' && id) throw new UsageError(`rapport keys ${sub}: unexpected argument "${id}"`, hint);
}

async function start(args: CliArgs): Promise<number> {
  if (cluster.isWorker && process.env.RAPPORT_CLUSTER_WORKER) {
    const { config } = loadConfig();
    await runClusterWorker(config, (c) => startServer(c, { migrate: false }), createLogger());
    await new Promise(() => undefined);
  }
  const { config, resolved, file } = prepare(args);
  const logger = createLogger();
  const asked = (args.values.workers as string | undefined) ?? (process.env.RAPPORT_WORKERS || undefined);
  const workers = workerCount(asked);
  if (workers > 1) return startPrimary(config, file, workers, logger, asked === 'auto', resolved.api.shutdownGraceMs);
  const server = await startServer({ ...config, logger });
  logUnhandledRejections(logger);
  const { core } = server;
  const publicUrl = server.url.replace('127.0.0.1', 'localhost');
  logger.info({ url: `${publicUrl}/graphql`, config: file ?? 'defaults' }, 'rapport is listening');
  if ((await core.services.keys.count()) === 0) {
    process.stderr.write(
      [
        '',
        `Rapport is running: GraphQL and its IDE at ${publicUrl}/graphql, the Segment tracking API at ${publicUrl}/v1.`,
        'There are no API keys yet. In another terminal, from this directory:',
        '  npx rapport keys create --role admin    # for the GraphQL IDE and administration',
        '  npx rapport keys create --role ingest   # a write key for Segment SDKs and /v1 (writes, reads nothing)',
        '  npx rapport keys create --role app      # for apps that read profiles',
        'Each command prints the key once; only its hash is stored.',
        '',
      ].join('\n'),
    );
  }
  // The server bounds its own shutdown (grace period, then pool and PostgreSQL); the deadline is a backstop.
  closeOnSignal(() => server.close(), logger, 'shutting down', core.config.api.shutdownGraceMs + 30_000);
  await new Promise(() => undefined);
  return 0;
}

/** `rapport start --workers n`: the primary of a cluster of servers. */
async function startPrimary(config: RapportConfigInput, file: string | null, workers: number, logger: Logger, auto: boolean, graceMs: number): Promise<number> {
  const handle = await startCluster(config, workers, logger, { auto });
  logger.info({ url: `${handle.url.replace('127.0.0.1', 'localhost')}/graphql`, workers: handle.workers, config: file ?? 'defaults' }, 'rapport is listening');
  closeOnSignal(() => handle.stop(graceMs + 10_000), logger, 'shutting down the workers', graceMs + 40_000);
  await new Promise(() => undefined);
  return 0;
}

async function migrate(args: CliArgs): Promise<number> {
  const { config } = prepare(args);
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { migrate: false, background: false });
  try {
    const applied = await core.db.migrate();
    process.stderr.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
    return 0;
  } finally {
    await core.close();
  }
}

async function train(args: CliArgs): Promise<number> {
  const name = args.positionals[0];
  const { config } = prepare(args);
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { background: false });
  try {
    const trainable = core.plugins.filter((p) => p.train).map((p) => p.name);
    const plugin = core.plugins.find((p) => p.name === name);
    if (!name || !plugin?.train) {
      throw new Error(`usage: rapport train <plugin>; plugins that train: ${trainable.length ? trainable.join(', ') : 'none installed'}`);
    }
    const summary = await plugin.train(core.pluginContext(plugin), {
      args: args.rest,
      onProgress: (m) => process.stderr.write(`${name}: ${m}\n`),
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await core.close();
  }
}

async function resolve(args: CliArgs): Promise<number> {
  const { config } = prepare(args);
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { background: false });
  const tty = process.stderr.isTTY;
  let last = '';
  try {
    const summary = await core.services.resolution.resolveAll({
      retrain: args.values.retrain === true,
      actor: 'rapport resolve',
      onProgress: (p) => {
        const pct = p.total ? Math.floor((100 * p.processed) / p.total) : 0;
        const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '-');
        const line = p.phase === 'merging' ? `[${bar}] ${pct}% merging ${p.processed}/${p.total} clusters` : `${p.phase}...`;
        if (line === last) return;
        last = line;
        process.stderr.write(tty ? `\r${line.padEnd(60)}` : `${line}\n`);
      },
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(
      `${summary.resumed ? 'resumed run' : 'run'} ${summary.runId}: ${summary.profiles} profiles, ${summary.candidatePairs} candidate pairs, ` +
        `${summary.merged} merged, ${summary.queued} queued for review, ${summary.seconds.toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await core.close();
  }
}

async function keys(args: CliArgs): Promise<number> {
  const [sub, id] = args.positionals;
  const { config } = prepare(args);
  const core = await createRapport({ ...config, logger: stderrLogger() }, { background: false });
  try {
    if (sub === 'create') {
      const roles = args.values.role as string[];
      const { key, record } = await core.services.keys.create({ name: args.values.name as string | undefined, roles, purposes: args.values.purpose as string[] | undefined });
      process.stderr.write(`created key ${record.id} (${record.prefix}…) with roles ${record.roles.join(', ')}; it is shown once:\n`);
      process.stdout.write(`${key}\n`);
    } else if (sub === 'list') {
      for (const k of await core.services.keys.list()) {
        process.stdout.write(
          `${k.id}  ${k.prefix}…  ${k.name}  roles=${k.roles.join(',')}${k.purposes.length ? ` purposes=${k.purposes.join(',')}` : ''}` +
            `${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ''}\n`,
        );
      }
    } else {
      await core.services.keys.revoke(id);
      process.stderr.write(`revoked ${id}\n`);
    }
    return 0;
  } finally {
    await core.close();
  }
}

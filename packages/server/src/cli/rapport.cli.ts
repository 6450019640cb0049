import { createLogger, createRapport, resolveConfig, type Logger, type RapportConfigInput } from '@rapport/core/internal';
import pino from 'pino';
import { loadConfig } from '../config/load-config';
import { startServer } from '../server';
import cluster from 'node:cluster';
import { closeOnSignal, logUnhandledRejections, runClusterWorker, startCluster, workerCount } from '../cluster';
import { parseArgs, type ParsedArgs } from './parse-args';

const HELP = `rapport: the Rapport customer data platform

Usage:
  rapport start [--workers <n|auto>]    start the server (PORT, default 4000; DATABASE_URL, default embedded PostgreSQL);
                                        --workers (or RAPPORT_WORKERS) runs n processes on the one port
  rapport migrate                       apply pending migrations and exit
  rapport resolve [--retrain]           probabilistic identity resolution over all profiles (resumable)
  rapport train <plugin> [args...]      train a plugin's models (e.g. rapport train recommendations)
  rapport keys create --role <role>...  create an API key; prints the key alone on stdout
        [--name <name>] [--purpose <purpose>...]
  rapport keys list                     list keys (never their secrets)
  rapport keys revoke <id>              revoke a key
  rapport help                          this text

Configuration: rapport.config.js in the working directory (or RAPPORT_CONFIG=<file>), then the
environment: DATABASE_URL, PORT, HOST, LOG_LEVEL, RAPPORT_DATA_DIR, RAPPORT_PG_PORT.`;

/** The configuration for long batch commands (migrate, train, resolve): no statement or query timeout. */
function untimed(config: RapportConfigInput): RapportConfigInput {
  return { ...config, database: { ...config.database, statementTimeoutMs: 0, queryTimeoutMs: 0 } };
}

/**
 * A logger on stderr at `LOG_LEVEL` (default `warn`), so stdout carries only a command's answer (a
 * key, a list) and stderr only its human lines unless something goes wrong.
 */
function stderrLogger(level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return createLogger({ level }, pino.destination(2));
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [command, sub] = args.positional;
  try {
    switch (command) {
      case 'start':
        return await start(args);
      case 'migrate':
        return await migrate();
      case 'keys':
        return await keys(sub, args);
      case 'resolve':
        return await resolve(args);
      case 'train':
        return await train(sub, args);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(HELP + '\n');
        return command ? 0 : 1;
      default:
        process.stderr.write(`rapport: unknown command "${command}"\n\n${HELP}\n`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`rapport ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function start(args: ParsedArgs): Promise<number> {
  const { config, file } = loadConfig();
  const logger = createLogger();
  if (cluster.isWorker && process.env.RAPPORT_CLUSTER_WORKER) {
    await runClusterWorker(config, (c) => startServer(c, { migrate: false }), logger);
    await new Promise(() => undefined);
  }
  const asked = args.flags.workers?.at(-1) ?? process.env.RAPPORT_WORKERS;
  const workers = workerCount(asked);
  if (workers > 1) return startPrimary(config, file, workers, logger, asked === 'auto');
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
async function startPrimary(config: RapportConfigInput, file: string | null | undefined, workers: number, logger: Logger, auto: boolean): Promise<number> {
  const handle = await startCluster(config, workers, logger, { auto });
  logger.info({ url: `${handle.url.replace('127.0.0.1', 'localhost')}/graphql`, workers: handle.workers, config: file ?? 'defaults' }, 'rapport is listening');
  const graceMs = resolveConfig(config).api.shutdownGraceMs;
  closeOnSignal(() => handle.stop(graceMs + 10_000), logger, 'shutting down the workers', graceMs + 40_000);
  await new Promise(() => undefined);
  return 0;
}

async function migrate(): Promise<number> {
  const { config } = loadConfig();
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { migrate: false, background: false });
  try {
    const applied = await core.db.migrate();
    process.stderr.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
    return 0;
  } finally {
    await core.close();
  }
}

async function train(name: string | undefined, args: ParsedArgs): Promise<number> {
  const { config } = loadConfig();
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { background: false });
  try {
    const trainable = core.plugins.filter((p) => p.train).map((p) => p.name);
    const plugin = core.plugins.find((p) => p.name === name);
    if (!name || !plugin?.train) {
      throw new Error(`usage: rapport train <plugin>; plugins that train: ${trainable.length ? trainable.join(', ') : 'none installed'}`);
    }
    const summary = await plugin.train(core.pluginContext(plugin), {
      args: args.positional.slice(2),
      onProgress: (m) => process.stderr.write(`${name}: ${m}\n`),
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
    return 0;
  } finally {
    await core.close();
  }
}

async function resolve(args: ParsedArgs): Promise<number> {
  const { config } = loadConfig();
  const core = await createRapport({ ...untimed(config), logger: stderrLogger() }, { background: false });
  const tty = process.stderr.isTTY;
  let last = '';
  try {
    const summary = await core.services.resolution.resolveAll({
      retrain: !!args.flags.retrain,
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

async function keys(sub: string | undefined, args: ParsedArgs): Promise<number> {
  const { config } = loadConfig();
  const core = await createRapport({ ...config, logger: stderrLogger() }, { background: false });
  try {
    switch (sub) {
      case 'create': {
        const roles = args.flags.role ?? [];
        if (!roles.length) throw new Error('--role is required (admin, app, ingest, or a configured role); repeat it for several');
        const { key, record } = await core.services.keys.create({ name: args.flags.name?.[0], roles, purposes: args.flags.purpose });
        process.stderr.write(`created key ${record.id} (${record.prefix}…) with roles ${record.roles.join(', ')}; it is shown once:\n`);
        process.stdout.write(`${key}\n`);
        return 0;
      }
      case 'list': {
        for (const k of await core.services.keys.list()) {
          process.stdout.write(
            `${k.id}  ${k.prefix}…  ${k.name}  roles=${k.roles.join(',')}${k.purposes.length ? ` purposes=${k.purposes.join(',')}` : ''}` +
              `${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ''}\n`,
          );
        }
        return 0;
      }
      case 'revoke': {
        const id = args.positional[2];
        if (!id) throw new Error('usage: rapport keys revoke <id>');
        await core.services.keys.revoke(id);
        process.stderr.write(`revoked ${id}\n`);
        return 0;
      }
      default:
        throw new Error('usage: rapport keys create|list|revoke');
    }
  } finally {
    await core.close();
  }
}

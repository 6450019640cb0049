import type { ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A command of the `rapport` CLI: its options (for `node:util` parseArgs) and its help. */
export interface CommandSpec {
  name: string;
  /** One line for `rapport --help`. */
  summary: string;
  /** `rapport <name> --help`. */
  help: string;
  options: Options;
  /** Most positional words after the command name (`keys revoke <id>`: 2). */
  maxPositionals: number;
}

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } };
const CREATE_OPTION: Options = { create: { type: 'boolean' } };

const DATABASE_NOTE = `Database: DATABASE_URL, or the embedded PostgreSQL in ./.rapport/pgdata (RAPPORT_DATA_DIR) of the
working directory. Where there is neither, the command refuses and says where it looked; --create
makes a new embedded database there.`;

/** Every command, in the order `rapport --help` lists them. */
export const COMMANDS: CommandSpec[] = [
  {
    name: 'start',
    summary: 'start the server (HTTP on PORT, default 4000)',
    options: { ...HELP_OPTION, ...CREATE_OPTION, workers: { type: 'string' } },
    maxPositionals: 0,
    help: `Usage: rapport start [--workers <n|auto>] [--create]

Starts the server: GraphQL and its IDE at /graphql, the Segment tracking API at /v1, /livez, /readyz.
Pending migrations are applied first.

Options:
  --workers <n|auto>  server processes sharing the port (default RAPPORT_WORKERS, else 1)
  --create            make a new embedded PostgreSQL database when there is none (the first start)
  -h, --help          this text

${DATABASE_NOTE}`,
  },
  {
    name: 'migrate',
    summary: 'apply pending migrations and exit',
    options: { ...HELP_OPTION, ...CREATE_OPTION },
    maxPositionals: 0,
    help: `Usage: rapport migrate [--create]

Applies pending migrations (core's and the configured plugins') and exits; prints what it applied.

Options:
  --create    make a new embedded PostgreSQL database when there is none
  -h, --help  this text

${DATABASE_NOTE}`,
  },
  {
    name: 'keys',
    summary: 'create, list and revoke API keys',
    options: { ...HELP_OPTION, ...CREATE_OPTION, role: { type: 'string', multiple: true }, name: { type: 'string' }, purpose: { type: 'string', multiple: true } },
    maxPositionals: 2,
    help: `Usage:
  rapport keys create --role <role>... [--name <name>] [--purpose <purpose>...]
                            create a key; prints the key alone on stdout (it is shown once)
  rapport keys list         list keys (never their secrets)
  rapport keys revoke <id>  revoke a key

Options:
  --role <role>        admin, app, ingest, metrics (/metrics only), or a configured or plugin role; repeat it for several
  --name <name>        a name for the key (also the source recorded with the traits it writes)
  --purpose <purpose>  a purpose the key may act for; repeat it for several
  --create             make a new embedded PostgreSQL database when there is none
  -h, --help           this text

${DATABASE_NOTE}`,
  },
  {
    name: 'resolve',
    summary: 'probabilistic identity resolution over all profiles (resumable)',
    options: { ...HELP_OPTION, retrain: { type: 'boolean' } },
    maxPositionals: 0,
    help: `Usage: rapport resolve [--retrain]

Scores every profile against its block with the match model (trained on the first run), merges sure
pairs and queues likely ones for review; an interrupted run resumes. Progress on stderr, a summary on
stdout.

Options:
  --retrain   train a new model first
  -h, --help  this text

${DATABASE_NOTE}`,
  },
  {
    name: 'train',
    summary: "train a plugin's models (rapport train recommendations)",
    options: { ...HELP_OPTION },
    maxPositionals: 1,
    help: `Usage: rapport train <plugin> [plugin arguments...]

Trains a plugin's models in this process and prints the summary as JSON. Everything after the plugin's
name is passed to the plugin unchanged.

Options:
  -h, --help  this text

${DATABASE_NOTE}`,
  },
  {
    name: 'help',
    summary: 'this text, or a command\'s: rapport help <command>',
    options: {},
    maxPositionals: 1,
    help: 'Usage: rapport help [<command>]',
  },
];

/** `rapport --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `rapport: the Rapport customer data platform

Usage: rapport <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Options:
  -h, --help     this text (rapport <command> --help: the command's)
  -v, --version  the version

Configuration: rapport.config.js in the working directory (or RAPPORT_CONFIG=<file>), then the
environment (DATABASE_URL, PORT, HOST, RAPPORT_LOG_LEVEL, RAPPORT_*, OTEL_*). Every key and variable, with its type
and default: docs/configuration.md. Invalid values stop every command with one line per problem.`;
}

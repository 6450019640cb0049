import { parseArgs } from 'node:util';
import { closest } from '@rapport/core/internal';
import { COMMANDS, type CommandSpec } from './cli-commands';

/** A command line, parsed against its command's options. */
export interface CliArgs {
  command: CommandSpec;
  /** Positional words after the command name (`keys revoke <id>`: `['revoke', id]`). */
  positionals: string[];
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  /** `rapport train <plugin> ...`: the words after the plugin's name, passed to it unchanged. */
  rest: string[];
  /** The whole command line, as typed (for hints that repeat it). */
  argv: string[];
}

/** A command line that cannot run: the message, and exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What `rapport ...` asks for before any command runs. */
export type Parsed = { kind: 'help'; command?: CommandSpec } | { kind: 'version' } | { kind: 'run'; args: CliArgs };

/**
 * Parses `rapport` arguments with `node:util` parseArgs, strictly: an unknown option, a missing
 * value or an extra word is a {@link UsageError} that names it and the command's help.
 */
export function parseCommandLine(argv: string[]): Parsed {
  const [first, ...after] = argv;
  if (first === undefined) throw new UsageError('no command given', 'rapport --help lists the commands');
  if (first.startsWith('-')) {
    const { values } = strictParse(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, 0, 'rapport', 'rapport --help');
    if (values.version) return { kind: 'version' };
    return { kind: 'help' };
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    const guess = closest(first, COMMANDS.map((c) => c.name));
    throw new UsageError(`unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ''}`, 'rapport --help lists the commands');
  }
  // `train <plugin> ...`: what follows the plugin's name is the plugin's.
  let own = after;
  let rest: string[] = [];
  if (command.name === 'train') {
    const i = after.findIndex((a) => !a.startsWith('-'));
    if (i >= 0) [own, rest] = [after.slice(0, i + 1), after.slice(i + 1)];
  }
  const parsed = strictParse(own, command.options, command.maxPositionals, `rapport ${command.name}`, `rapport ${command.name} --help`);
  if (command.name === 'help') {
    const target = parsed.positionals[0];
    if (target === undefined) return { kind: 'help' };
    const spec = COMMANDS.find((c) => c.name === target);
    if (!spec) throw new UsageError(`unknown command "${target}"`, 'rapport --help lists the commands');
    return { kind: 'help', command: spec };
  }
  if (parsed.values.help) return { kind: 'help', command };
  return { kind: 'run', args: { command, positionals: parsed.positionals, values: parsed.values, rest, argv } };
}

function strictParse(args: string[], options: CommandSpec['options'], maxPositionals: number, who: string, hint: string) {
  const known = Object.keys(options ?? {});
  // A first pass without strictness names an unknown option in our words (with the nearest known one).
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens ?? []) {
    if (t.kind === 'option' && !known.includes(t.name)) {
      const guess = closest(t.name, known);
      throw new UsageError(`${who}: unknown option ${t.rawName}${guess ? `; did you mean --${guess}?` : ''}`, `${hint} shows its options`);
    }
  }
  let parsed: { values: CliArgs['values']; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${who}: ${(err as Error).message.split('. ')[0]}`, `${hint} shows its options`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`${who}: unexpected argument "${parsed.positionals[maxPositionals]}"`, `${hint} shows its usage`);
  }
  return parsed;
}

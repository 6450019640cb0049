/** Positional words and repeatable `--flag value` / `--flag=value` options. */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string[]>;
}

/** Flags that take no value, so they never swallow the next word. */
const BOOLEAN_FLAGS = new Set(['json', 'retrain', 'help', 'no-vetoes']);

/** Parses CLI arguments; flags may repeat (`--role app --role ingest`). */
export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const value = eq > 0 ? a.slice(eq + 1) : !BOOLEAN_FLAGS.has(name) && argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
      (flags[name] ??= []).push(value);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

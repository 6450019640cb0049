/** One thing wrong in the configuration: which key or variable, what, the rule, and the fix. */
export interface ConfigIssue {
  /** The key's path in the file (`api.rateLimitPerMinute`, `plugins[0]`), or the variable's name. */
  key: string;
  /** `file` for the configuration file (or the object given to `createRapport`), `env` for a variable. */
  source: 'file' | 'env';
  /** What is wrong with the value as given (never quoting a secret). */
  problem: string;
  /** The rule the value must follow. */
  rule: string;
  /** What to do. */
  fix: string;
}

/**
 * The configuration cannot be used: every problem found in the file and the environment at once,
 * one line each. Nothing was started.
 */
export class ConfigError extends Error {
  constructor(
    readonly issues: ConfigIssue[],
    /** Where the file's keys came from, for the message (a path, or `the configuration`). */
    readonly file = 'the configuration',
  ) {
    super(formatIssues(issues, file));
    this.name = 'ConfigError';
  }
}

function formatIssues(issues: ConfigIssue[], file: string): string {
  const head = issues.length === 1 ? 'the configuration has a problem' : `the configuration has ${issues.length} problems`;
  const lines = issues.map((i) => `  - ${i.key} (${i.source === 'env' ? 'environment' : file}): ${i.problem}; rule: ${i.rule}. Fix: ${i.fix}.`);
  return [`${head}; nothing was started:`, ...lines, 'Every key and variable: docs/configuration.md'].join('\n');
}

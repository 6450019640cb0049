import type { RapportConfig, RapportConfigInput } from './rapport-config';
import { builtInDefaults } from './built-in-defaults';
import { checkConfigInput, readEnvironment } from './config-validation';
import { ConfigError } from './config-error';

export { DEFAULT_BLOCKED_VALUES } from './built-in-defaults';

/**
 * The defaults, with what the environment sets (`RAPPORT_PG_POOL`, `DATABASE_URL`, ...: each key's
 * variable is declared in config.schema.ts). Throws a {@link ConfigError} naming every variable
 * whose value breaks its rule.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): RapportConfig {
  const { layer, issues } = readEnvironment(env);
  if (issues.length) throw new ConfigError(issues);
  const d = builtInDefaults();
  return {
    ...d,
    database: { ...d.database, ...layer.database, embedded: { ...d.database.embedded, ...layer.database?.embedded } },
    api: { ...d.api, ...layer.api },
  };
}

/**
 * Checks a partial configuration and the environment, then fills what they leave out with the
 * defaults (the file wins over the environment, the environment over the built-in values). Throws
 * a {@link ConfigError} listing every problem of both at once; `file` names the file in it.
 */
export function resolveConfig(input: RapportConfigInput = {}, env: NodeJS.ProcessEnv = process.env, file?: string): RapportConfig {
  const issues = [...checkConfigInput(input), ...readEnvironment(env).issues];
  if (issues.length) throw new ConfigError(issues, file);
  const d = defaultConfig(env);
  return {
    database: { ...d.database, ...input.database, embedded: { ...d.database.embedded, ...input.database?.embedded } },
    identity: {
      ...d.identity,
      ...input.identity,
      // Limits merge key by key: setting one type's limit keeps the others (user_id: 1 above all).
      limits: { ...d.identity.limits, ...input.identity?.limits },
      survivorship: { ...d.identity.survivorship, ...input.identity?.survivorship },
      matching: { ...d.identity.matching, ...input.identity?.matching },
    },
    consent: {
      categoryMapping: { ...d.consent.categoryMapping, ...input.consent?.categoryMapping },
      piiTraits: input.consent?.piiTraits ?? d.consent.piiTraits,
      unclassifiedEventKeys: input.consent?.unclassifiedEventKeys ?? d.consent.unclassifiedEventKeys,
      policies: input.consent?.policies ?? d.consent.policies,
    },
    ingestion: { ...d.ingestion, ...input.ingestion },
    api: { ...d.api, ...input.api },
    plugins: input.plugins ?? [],
    roles: { ...input.roles },
    delivery: { ...input.delivery },
    jobs: { ...input.jobs },
    logger: input.logger,
  };
}

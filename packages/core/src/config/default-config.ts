import path from 'node:path';
import type { RapportConfig, RapportConfigInput } from './rapport-config';
import { DEFAULT_PERSON_MATCHING_CONFIG } from '../identity/matching/default-config';

/** Values that never link identities: placeholders SDKs and forms send when they know nothing. */
export const DEFAULT_BLOCKED_VALUES = [
  'null', 'undefined', 'nil', 'none', 'n/a', 'anonymous', 'unknown', '-1', '[object object]',
];

/** The defaults, read from the environment where it says so. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): RapportConfig {
  return {
    database: {
      url: env.DATABASE_URL || undefined,
      embedded: {
        dataDir: path.resolve(env.RAPPORT_DATA_DIR ?? '.rapport/pgdata'),
        port: Number(env.RAPPORT_PG_PORT ?? 54329),
      },
      poolSize: Number(env.RAPPORT_PG_POOL ?? 10),
      acquireTimeoutMs: Number(env.RAPPORT_PG_ACQUIRE_TIMEOUT_MS ?? 5_000),
      statementTimeoutMs: Number(env.RAPPORT_PG_STATEMENT_TIMEOUT_MS ?? 10_000),
      lockTimeoutMs: Number(env.RAPPORT_PG_LOCK_TIMEOUT_MS ?? 0),
      queryTimeoutMs: Number(env.RAPPORT_PG_QUERY_TIMEOUT_MS ?? 12_000),
    },
    identity: {
      limits: { user_id: 1 },
      defaultLimit: 5,
      priority: ['user_id', 'email'],
      blockedValues: DEFAULT_BLOCKED_VALUES,
      survivorship: { default: 'most_recent', traits: {} },
      matching: { incremental: true, enforceLimits: 'explicit', config: DEFAULT_PERSON_MATCHING_CONFIG },
    },
    consent: {
      categoryMapping: { advertising: 'marketing', Advertising: 'marketing' },
      piiTraits: [],
      unclassifiedEventKeys: 'deny',
      policies: [],
    },
    ingestion: { maxMessageBytes: 32 * 1024, maxBatchBytes: 500 * 1024, maxBatchMessages: 2500 },
    api: {
      maxDepth: 10,
      maxComplexity: 5000,
      rateLimitPerMinute: Number(env.RAPPORT_RATE_LIMIT ?? 6000),
      authFailuresPerMinute: Number(env.RAPPORT_AUTH_FAILURE_LIMIT ?? 60),
      requestTimeoutMs: Number(env.RAPPORT_REQUEST_TIMEOUT_MS ?? 30_000),
      shutdownGraceMs: Number(env.RAPPORT_SHUTDOWN_GRACE_MS ?? 10_000),
    },
    plugins: [],
    roles: {},
    delivery: {},
    jobs: {},
  };
}

/** Fills a partial configuration with the defaults. */
export function resolveConfig(input: RapportConfigInput = {}, env: NodeJS.ProcessEnv = process.env): RapportConfig {
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

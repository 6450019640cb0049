import path from 'node:path';
import type { RapportConfig } from './rapport-config';
import { DEFAULT_PERSON_MATCHING_CONFIG } from '../identity/matching/default-config';

/** Values that never link identities: placeholders SDKs and forms send when they know nothing. */
export const DEFAULT_BLOCKED_VALUES = [
  'null', 'undefined', 'nil', 'none', 'n/a', 'anonymous', 'unknown', '-1', '[object object]',
];

/** The defaults before the environment: what every key is when neither the file nor a variable sets it. */
export function builtInDefaults(): RapportConfig {
  return {
    database: {
      url: undefined,
      embedded: { dataDir: path.resolve('.rapport/pgdata'), port: 54329 },
      poolSize: 10,
      poolMin: undefined,
      idleTimeoutMs: 10_000,
      acquireTimeoutMs: 5_000,
      statementTimeoutMs: 10_000,
      lockTimeoutMs: 0,
      queryTimeoutMs: 12_000,
      preparedStatements: true,
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
      rateLimitPerMinute: 6000,
      authFailuresPerMinute: 60,
      requestTimeoutMs: 30_000,
      shutdownGraceMs: 10_000,
      subscriptionsPerConnection: 20,
      subscriptionConnectionsPerKey: 50,
      subscriptionInitTimeoutMs: 10_000,
      subscriptionIdleTimeoutMs: 300_000,
      subscriptionBufferBytes: 1024 * 1024,
    },
    plugins: [],
    roles: {},
    delivery: {},
    jobs: {},
  };
}

import type { Logger } from '../logger/logger';
import type { DeliveryOptions } from '../delivery/event-delivery.service';
import type { RapportPlugin } from '../plugin/plugin.types';
import type { SurvivorshipConfig } from '../identity/survivorship';
import type { MatchingConfig } from '../identity/matching/matching.types';

/** Merge protection, as Segment Unify does it. */
export interface IdentityConfig {
  /**
   * Most values of one identity type a single profile may hold. A link that would push a profile
   * over a limit is refused (the identity stays where it is, or is not attached).
   * Types not listed use `defaultLimit`.
   */
  limits: Record<string, number>;
  /** Limit for identity types not listed in `limits`. */
  defaultLimit: number;
  /**
   * Identity types from most to least trusted. When a message carries identities of several
   * profiles, the profile of the highest-priority identity anchors the message, and lower-priority
   * identities that would break a limit are dropped first. Types not listed come after, alphabetically.
   */
  priority: string[];
  /** Values (compared after normalisation, case-insensitive) that never link anything. */
  blockedValues: string[];
  /** Default region for phone numbers written without a country code (ISO 3166 alpha-2), or none. */
  defaultPhoneRegion?: string;
  /** Which value of a trait survives when two meet (merge or update). Default: most recent. */
  survivorship: SurvivorshipConfig;
  /** Probabilistic matching (Fellegi-Sunter): comparisons, blocking, thresholds. */
  matching: MatchingSettings;
}

/** Probabilistic matching settings. */
export interface MatchingSettings {
  /** Match new identify events against their block as they arrive (needs a trained model). */
  incremental: boolean;
  /**
   * Which merge-protection limits a probabilistic merge must respect: `explicit` (only types
   * listed in `limits`, e.g. one user_id), or `all` (also `defaultLimit`).
   */
  enforceLimits: 'explicit' | 'all';
  /** Comparisons (trait keys), blocking rules, thresholds and training options. */
  config: MatchingConfig;
}

/** Limits of the Segment-compatible HTTP API. */
export interface IngestionConfig {
  /** Largest single message, in bytes of JSON (Segment: 32 KB). */
  maxMessageBytes: number;
  /** Largest batch request body, in bytes (Segment: 500 KB). */
  maxBatchBytes: number;
  /** Largest number of messages in one batch. */
  maxBatchMessages: number;
}

/** Where the data lives. */
export interface DatabaseConfig {
  /** A PostgreSQL (>= 14) connection string. When absent, an embedded PostgreSQL is started. */
  url?: string;
  /** Embedded PostgreSQL settings, used when `url` is absent. */
  embedded: { dataDir: string; port: number };
  /** Most connections in the pool (`RAPPORT_PG_POOL`, default 10). */
  poolSize: number;
  /**
   * Longest wait for a connection: a free one from the pool, or a new one to connect (ms;
   * `RAPPORT_PG_ACQUIRE_TIMEOUT_MS`, default 5000). Past it the request answers 503 with `Retry-After`.
   */
  acquireTimeoutMs: number;
  /**
   * PostgreSQL's `statement_timeout` for the server's connections (ms; `RAPPORT_PG_STATEMENT_TIMEOUT_MS`,
   * default 10000; 0 for none). A statement running longer is cancelled and the request answers 503.
   * Migrations and the CLI's `resolve` and `train` run without it.
   */
  statementTimeoutMs: number;
  /**
   * PostgreSQL's `lock_timeout` (ms; `RAPPORT_PG_LOCK_TIMEOUT_MS`, default 0: lock waits are bounded by
   * `statementTimeoutMs` only). Lower it to fail lock waits sooner than other work.
   */
  lockTimeoutMs: number;
  /**
   * Client-side bound on one query's answer (ms; `RAPPORT_PG_QUERY_TIMEOUT_MS`, default 12000; 0 for
   * none): the backstop for a server that stopped answering (paused, a half-open connection), where
   * `statement_timeout` cannot fire. Keep it above `statementTimeoutMs`.
   */
  queryTimeoutMs: number;
}

/** Limits that protect the GraphQL endpoint. */
export interface ApiLimitsConfig {
  /** Deepest selection allowed. */
  maxDepth: number;
  /** Highest estimated cost (each field 1, list fields times their `first`). */
  maxComplexity: number;
  /**
   * Requests per minute per valid API key (`RAPPORT_RATE_LIMIT`, default 6000); requests that present
   * no valid key share one such budget per client address. `/health` is never limited.
   */
  rateLimitPerMinute: number;
  /**
   * Failed authentications (no key, unknown or revoked key) per minute per client address
   * (`RAPPORT_AUTH_FAILURE_LIMIT`, default 60). Past it the address gets 429 with `Retry-After`,
   * without a database lookup, for the rest of the minute, except for keys already seen valid.
   */
  authFailuresPerMinute: number;
  /**
   * Most time a client may take to send a whole request, headers and body (ms;
   * `RAPPORT_REQUEST_TIMEOUT_MS`, default 30000). A slower one gets 408 and its connection is closed.
   */
  requestTimeoutMs: number;
  /**
   * On SIGTERM/SIGINT, how long requests in flight may take to finish before their connections are
   * closed (ms; `RAPPORT_SHUTDOWN_GRACE_MS`, default 10000). New connections are refused at once.
   */
  shutdownGraceMs: number;
}

/** Consent settings. */
export interface ConsentConfig {
  /**
   * Segment consent category -> purpose, for categories whose lower snake case is not already a
   * purpose name (e.g. `{ Advertising: 'marketing', 'Functional Cookies': 'personalization' }`).
   */
  categoryMapping: Record<string, string>;
  /**
   * Trait keys that are personal data. With no policy of their own, they are denied to every
   * reader (deny by default) and never appear in `traits`.
   */
  piiTraits: string[];
  /**
   * Event payload keys (of `properties` and `context`) that no policy classifies: `deny` (the
   * default) hides them from every role below admin until a policy on an `event:` element allows
   * them, so a new property is not readable by accident; `allow` leaves them open.
   */
  unclassifiedEventKeys: 'deny' | 'allow';
  /** Policies seeded at start (upserted; admins can change them later over GraphQL). */
  policies: Array<{ type: string; field: string; purposes?: string[]; roles?: string[]; mask?: 'null' | 'mask' | 'hash'; pii?: boolean }>;
}

/** Everything Rapport can be configured with. */
export interface RapportConfig {
  database: DatabaseConfig;
  consent: ConsentConfig;
  identity: IdentityConfig;
  ingestion: IngestionConfig;
  api: ApiLimitsConfig;
  /** Plugins, in any order: they run in `dependsOn` order. */
  plugins: RapportPlugin[];
  /** Extra roles and the permissions they grant, added to the built-in `admin`, `app` and `ingest`. */
  roles: Record<string, string[]>;
  /** How plugins' durable event delivery polls, leases and backs off (docs/plugins.md). */
  delivery: DeliveryOptions;
  logger?: Logger;
}

/** A partial configuration; missing parts take their defaults. */
export type RapportConfigInput = {
  database?: Partial<DatabaseConfig>;
  consent?: Partial<ConsentConfig>;
  identity?: Partial<Omit<IdentityConfig, 'survivorship' | 'matching'>> & {
    survivorship?: Partial<SurvivorshipConfig>;
    matching?: Partial<MatchingSettings>;
  };
  ingestion?: Partial<IngestionConfig>;
  api?: Partial<ApiLimitsConfig>;
  plugins?: RapportPlugin[];
  roles?: Record<string, string[]>;
  delivery?: DeliveryOptions;
  /** Refuse to start when a plugin declares another core version (default: warn and start). */
  strictCompatibility?: boolean;
  logger?: Logger;
};

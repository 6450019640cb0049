import type { Logger } from '../logger/logger';
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
  /** Most connections in the pool. */
  poolSize: number;
}

/** Limits that protect the GraphQL endpoint. */
export interface ApiLimitsConfig {
  /** Deepest selection allowed. */
  maxDepth: number;
  /** Highest estimated cost (each field 1, list fields times their `first`). */
  maxComplexity: number;
  /** Requests per minute per API key (or per IP without a key). */
  rateLimitPerMinute: number;
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
  /** Refuse to start when a plugin declares another core version (default: warn and start). */
  strictCompatibility?: boolean;
  logger?: Logger;
};

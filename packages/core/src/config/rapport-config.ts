import type { Logger } from '../logger/logger';
import type { DeliveryOptions } from '../delivery/delivery.config';
import type { RapportPlugin } from '../plugin/plugin.types';
import type { SurvivorshipConfig } from '../identity/survivorship';
import type { IdentityConfig, MatchingSettings } from '../identity/identity.config';
import type { JobRunnerOptions } from '../jobs/job.types';
import type { IngestionConfig } from '../ingestion/ingestion.config';
import type { DatabaseConfig } from '../database/database.config';
import type { ApiLimitsConfig } from './api-limits.config';
import type { ConsentConfig } from '../consent/consent.config';

export type { IdentityConfig, MatchingSettings } from '../identity/identity.config';
export type { IngestionConfig } from '../ingestion/ingestion.config';
export type { DatabaseConfig } from '../database/database.config';
export type { ApiLimitsConfig } from './api-limits.config';
export type { ConsentConfig } from '../consent/consent.config';

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
  /** How background jobs and schedules poll (docs/plugins.md). */
  jobs: JobRunnerOptions;
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
  jobs?: JobRunnerOptions;
  /** Refuse to start when a plugin declares another core version (default: warn and start). */
  strictCompatibility?: boolean;
  logger?: Logger;
  /** HTTP port (`PORT`, default 4000); read by the server (`@rapport/server`), not by core. */
  port?: number;
  /** Address to listen on (`HOST`, default 127.0.0.1); read by the server, not by core. */
  host?: string;
};

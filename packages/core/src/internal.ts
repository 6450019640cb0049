/**
 * `@rapport/core/internal`: core's implementation, for Rapport's own packages (schema, server,
 * testing). Not a plugin API: it changes without notice. Plugins and examples use `@rapport/core`
 * (a test fails when they import this).
 *
 * @packageDocumentation
 */
export * from './index';
export * from './config/rapport-config';
export { defaultConfig, resolveConfig, DEFAULT_BLOCKED_VALUES } from './config/default-config';
export { ConfigError, type ConfigIssue } from './config/config-error';
export { checkConfigInput, readEnvironment, closest } from './config/config-validation';
export { renderConfigDocs } from './config/config-docs';
export { createLogger, logLevelFromEnv } from './logger/logger';
export { Database, type Queryable, type DatabaseOptions, type DatabaseTimeouts, type QueryListener, type StatementTracer, type PoolStats } from './database/database';
export { DatabaseUnavailableError, RETRY_AFTER_SECONDS, unavailability } from './database/database-unavailable.error';
export { startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from './database/embedded-postgres';
export { Notifications, MAX_NOTIFY_PAYLOAD, type NotificationHandler } from './database/notifications';
export * from './entity';
export * from './ingestion/segment-message.types';
export { validateMessage } from './ingestion/message-validator';
export { IngestionPipeline, type PipelineResult, type RejectedMessage } from './ingestion/ingestion.pipeline';
export { IngestionService, type IngestOutcome } from './ingestion/ingestion.service';
export * from './identity/identity-normalizer';
export { MergeProtection } from './identity/merge-protection';
export { RoleRegistry, BUILTIN_ROLES } from './auth/roles';
export * from './service/profile.service';
export * from './service/event.service';
export { EventPageCoalescer, pageShapeOf } from './service/event-page.coalescer';
export { ProfileBundleReader, PROFILE_ONLY, type ProfileBundle, type ProfileReadPlan } from './service/profile-bundle.reader';
export { ReadAuditWriter, type ReadAuditEntry } from './consent/read-audit.writer';
export * from './service/api-key.service';
export type { DeliveryOptions } from './delivery/delivery.config';
export { EventDelivery } from './delivery/event-delivery.service';
export { RequestLoad } from './delivery/request-load';
export type { DeliveryTransport, TransportRow, Claim } from './delivery/delivery-transport';
export { PostgresDeliveryTransport } from './delivery/postgres.transport';
export { orderPlugins, checkCompatibility, PluginConfigError, satisfies } from './plugin/plugin-registry';
export { PluginHost } from './plugin/plugin-host';
export {
  MetricsRegistry, LATENCY_BUCKETS, type MetricSample, type MetricFamily, type MetricType, type MetricLabels, type MetricAggregator,
  type GaugeSeries, type LabelledCounter, type Histogram,
} from './metrics/metrics.registry';
export { boundedLabel, type IngestionOutcome } from './metrics/core.metrics';
export { JobRunner } from './jobs/job-runner.service';
export type { RapportServices } from './rapport.types';
export * as matching from './identity/matching';
export { resetTensorflow, type Tensor, type Tensor1D, type Tensor2D, type Variable, type Scalar } from './ml';
export { Survivorship, type SurvivorshipConfig } from './identity/survivorship';
export { ProfileMerger, type MergeRequest, type UnmergeResult } from './identity/resolution/profile-merger';
export { ConsentService, foldConsents, foldConsentsOnMerge, rebuildConsents } from './consent/consent.service';
export * from './consent/consent.types';
export { DataSubjectService, suppressionHash, type ProfileExport } from './consent/data-subject.service';
export { FieldPolicyService, type FieldPolicy, type FieldPolicyInput, type PolicyMask } from './consent/field-policy.service';
export { consentDecisionsOf, purposeOfCategory } from './consent/consent-extractor';
export * from './consent/legal-basis';
export * from './consent/access-decision';
export { traitValueSql, MAX_TRAIT_KEY_CHARS } from './consent/trait-sql';
export { isPiiKey, piiKeyOf, piiKeySet } from './consent/pii-key';
export * from './consent/data-element';
export * from './consent/datum-redaction';
export { ResolutionService, type MatchCandidateRecord, type ResolveProgress, type ResolveSummary } from './identity/resolution/resolution.service';
export { createRapport, type RapportCore, type CreateRapportOptions } from './rapport';

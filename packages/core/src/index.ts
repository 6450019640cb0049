/**
 * `@rapport/core`: the plugin-facing API. Everything a plugin (ours or a third party's) may use:
 * `definePlugin` and the plugin contract, the typed services of the plugin host, event delivery's
 * types, extension points, errors, cursors and a few utilities. Core's implementation (services,
 * database, ingestion, identity resolution) is `@rapport/core/internal`, for Rapport's own
 * packages only; its report is `packages/core/api/core.api.md`, checked in CI.
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

export {
  definePlugin, type RapportPlugin, type PluginFactory, type ProfileMergedEvent, type PurposeDeclaration, type FieldDeclaration, type CheckedEvent, type EventWarning,
} from './plugin/plugin.types';
export type {
  PluginContext, SqlRunner, PluginDatabase, PluginConsent, PluginTraits, PluginTraitValue, TraitReadOptions, PluginProfileRef, PluginProfiles, PluginEvents, PluginNotify, TopicHandler,
  PluginMetrics, Job, JobHandler, JobOptions, JobsService, ScheduleWhen, SendOptions,
} from './plugin/plugin-services.types';
export { createLoadersKey, type LoadersKey, type RequestLoaders } from './plugin/plugin-loaders';
export { createExtensionPoint, provide, type ExtensionPoint, type ExtensionLookup, type ProvidedExtension } from './plugin/extension-point';
export { CHANGE_KINDS, type Change, type ChangeKind, type ChangeBase, type EventChange, type MergeChange, type UnmergeChange, type ConsentChange, type DeliverySubscription, type EventSelection, type DeliveryStatus, type DeadLetter } from './delivery/delivery.types';
export type { EventRecord, EventField } from './service/event.service';
export type { ProfileRecord } from './service/profile.service';
export type { TraitSource } from './entity/profile.entity';
export type { SurvivorshipRule, TraitCandidate } from './identity/survivorship';
export type { Logger } from './logger/logger';
export * from './errors/rapport-error';
export { checkFirst, decodeCursor, encodeCursor, type Page } from './pagination/cursor';
export { seededRandom } from './identity/matching/random';
export { Permission } from './auth/roles';
export { ReadCoalescer } from './database/read-coalescer';
export { initTensorflow, currentBackend, TF_BACKENDS, type InitTensorflowOptions, type MlLogger, type TensorflowHandle, type Tf, type TfBackendLoader, type TfBackendName } from './ml';
export { CORE_VERSION } from './core-version';

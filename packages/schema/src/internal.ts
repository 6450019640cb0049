/**
 * `@rapport/schema/internal`: the schema's construction, resolvers, loaders and field guard, for
 * Rapport's own packages (server, testing). Not a plugin API; plugins use `@rapport/schema`.
 *
 * @packageDocumentation
 */
export * from './index';
export { buildRapportSchema, printRapportSchema, coreResolvers } from './build-schema';
export { createContext, type RapportContext } from './context';
export { createCoreLoaders, createLoaders, type Loaders } from './loaders/loaders';
export { permissionAuthChecker } from './auth/auth-checker';
export { MergeType } from './types/merge.type';
export { ApiKeyType, CreatedApiKey } from './types/api-key.type';
export { IngestResultType } from './types/ingest.type';
export { HealthType, PluginInfo } from './types/health.type';
export { MatchCandidateType, MatchExplanation, MatchCandidateConnection, MergeDecision } from './types/match-candidate.type';
export { PurposeType, ConsentType, ConsentHistoryEntry } from './types/consent.type';
export { applyFieldGuard, createRequestGuard, fieldDeclarationOf, RequestGuard } from './guard/field-guard';
export { AccessDecider, maskValue, type AccessDecision, type DeclaredPolicy } from './guard/access-decider';
export type { DeclaredField } from './guard/field-declarations';

import 'reflect-metadata';

export { buildRapportSchema, printRapportSchema, coreResolvers } from './build-schema';
export { createContext, type RapportContext, type Caller } from './context';
export { createCoreLoaders, createLoaders, type Loaders } from './loaders/loaders';
export { permissionAuthChecker } from './auth/auth-checker';
export { JSONScalar, JSONObjectScalar } from './scalars';
export { Profile, ProfileConnection, ProfileEdge } from './types/profile.type';
export { EventType, EventConnection } from './types/event.type';
export { IdentityType } from './types/identity.type';
export { MergeType } from './types/merge.type';
export { PageInfo, toConnection } from './types/page-info.type';
export { ApiKeyType, CreatedApiKey } from './types/api-key.type';
export { IngestResultType } from './types/ingest.type';
export { HealthType, PluginInfo } from './types/health.type';
export { MatchCandidateType, MatchExplanation, MatchCandidateConnection, MergeDecision } from './types/match-candidate.type';
export { PurposeType, ConsentType, ConsentHistoryEntry } from './types/consent.type';
export { applyFieldGuard, createRequestGuard, RequestGuard } from './guard/field-guard';
export { AccessDecider, maskValue, type AccessDecision } from './guard/access-decider';

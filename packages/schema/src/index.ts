/**
 * `@rapport/schema`: what plugins use to add to the one GraphQL schema: the core object types they
 * extend (`Profile`), the shared scalars and connection types, the request context their resolvers
 * receive, `@Governed` (a field's declared purposes, data elements and fallback), and
 * `subscriptionStream` (the bounded event source of a `@Subscription`). The schema's
 * construction, resolvers and guard are `@rapport/schema/internal`, for Rapport's own packages;
 * its report is `packages/schema/api/schema.api.md`, checked in CI.
 *
 * @packageDocumentation
 */
import 'reflect-metadata';

export type { RequestContext, RequestWarning, Caller } from './context';
export { JSONScalar, JSONObjectScalar } from './scalars';
export { Profile, ProfileConnection, ProfileEdge } from './types/profile.type';
export { EventType, EventConnection, EventEdge } from './types/event.type';
export { IdentityType } from './types/identity.type';
export { PageInfo, toConnection } from './types/page-info.type';
export { subscriptionStream, DEFAULT_MAX_BUFFERED, type SubscriptionSink, type SubscriptionStreamOptions } from './subscriptions/subscription-stream';
export { Governed, GOVERNED_EXTENSION, type GovernedOptions, type GovernedSpec, type FieldFallback, type FallbackRoot } from './guard/governed';

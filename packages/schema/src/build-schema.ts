import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { ValidationError, type RapportPlugin } from '@rapport/core/internal';
import { buildSchema, getMetadataStorage, type PubSub } from 'type-graphql';
import { permissionAuthChecker } from './auth/auth-checker';
import { applyFieldGuard } from './guard/field-guard';
import { PolicyResolver } from './resolvers/policy.resolver';
import { DataSubjectResolver } from './resolvers/data-subject.resolver';
import { ApiKeyResolver } from './resolvers/api-key.resolver';
import { HealthResolver } from './resolvers/health.resolver';
import { DeliveryResolver } from './resolvers/delivery.resolver';
import { IngestResolver } from './resolvers/ingest.resolver';
import { ProfileResolver } from './resolvers/profile.resolver';
import { ConsentResolver } from './resolvers/consent.resolver';
import { IdentityResolutionResolver, MergeHistoryResolver, ResolveRunResolver } from './resolvers/identity-resolution.resolver';

/** Resolvers core contributes to the one schema. */
export const coreResolvers: Function[] = [ProfileResolver, IngestResolver, ApiKeyResolver, HealthResolver, IdentityResolutionResolver, MergeHistoryResolver, ResolveRunResolver, ConsentResolver, PolicyResolver, DataSubjectResolver, DeliveryResolver];

/**
 * type-graphql needs a `pubSub` to build any `@Subscription`. Rapport's subscriptions name their
 * own event source (`subscribe`, usually a `subscriptionStream` fed by the plugin's live
 * changes, which reach every server process); topic subscriptions are refused at start
 * ({@link checkSubscriptions}), so this one is never asked for a topic.
 */
const NO_TOPICS: PubSub = {
  publish() {
    throw new Error('Rapport has no topic pub/sub: a @Subscription names its source with `subscribe` (docs/plugins.md#subscriptions)');
  },
  subscribe() {
    throw new Error('Rapport has no topic pub/sub: a @Subscription names its source with `subscribe` (docs/plugins.md#subscriptions)');
  },
};

/**
 * Refuses `@Subscription`s of these resolvers that declare `topics` instead of `subscribe`: a topic
 * published in one server process would never reach subscribers connected to another.
 */
function checkSubscriptions(resolvers: Function[]): void {
  const mine = new Set(resolvers);
  for (const s of getMetadataStorage().subscriptions) {
    if (!mine.has(s.target) || s.subscribe) continue;
    throw new ValidationError(
      `${s.target.name}.${s.methodName}`, 'subscribe',
      'a @Subscription must name its event source with `subscribe` (e.g. subscriptionStream from @rapport/schema fed by live changes every server process hears); `topics` are not supported',
    );
  }
}

/**
 * Composes the one GraphQL schema: core resolvers plus every plugin's. A plugin's
 * `@Resolver(() => Profile)` field resolvers land on the core `Profile` type, and its
 * `@Subscription`s (with `subscribe`) on the `Subscription` type, served over WebSocket.
 */
export async function buildRapportSchema(plugins: RapportPlugin[] = []): Promise<GraphQLSchema> {
  const resolvers = [...coreResolvers, ...plugins.flatMap((p) => p.resolvers ?? [])];
  checkSubscriptions(resolvers);
  const schema = await buildSchema({
    resolvers: resolvers as [Function, ...Function[]],
    authChecker: permissionAuthChecker,
    pubSub: NO_TOPICS,
    validate: false,
    emitSchemaFile: false,
  });
  return applyFieldGuard(schema, plugins);
}

/** The schema as SDL, sorted, for the committed snapshot. */
export function printRapportSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}

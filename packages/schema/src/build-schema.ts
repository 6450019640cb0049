import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import type { RapportPlugin } from '@rapport/core/internal';
import { buildSchema } from 'type-graphql';
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
 * Composes the one GraphQL schema: core resolvers plus every plugin's. A plugin's
 * `@Resolver(() => Profile)` field resolvers land on the core `Profile` type.
 */
export async function buildRapportSchema(plugins: RapportPlugin[] = []): Promise<GraphQLSchema> {
  const resolvers = [...coreResolvers, ...plugins.flatMap((p) => p.resolvers ?? [])];
  const schema = await buildSchema({
    resolvers: resolvers as [Function, ...Function[]],
    authChecker: permissionAuthChecker,
    validate: false,
    emitSchemaFile: false,
  });
  return applyFieldGuard(schema, plugins);
}

/** The schema as SDL, sorted, for the committed snapshot. */
export function printRapportSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}

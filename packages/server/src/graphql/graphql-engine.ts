import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ApiKeyRecord, FieldPolicy, Logger, RapportCore } from '@rapport/core/internal';
import { buildRapportSchema, createContext, createLoaders, createRequestGuard, type RapportContext } from '@rapport/schema/internal';
import { isObjectType, specifiedRules, type GraphQLSchema, type ValidationRule } from 'graphql';
import { databaseUnavailablePlugin } from './database-unavailable.plugin';
import { DEFAULT_DOCUMENT_LIMITS, documentLimitsRule, MAX_TOKENS } from './document-limits.rule';
import { formatError } from './format-error';
import { guardPlugin } from './guard.plugin';
import { introspectionAccessPlugin } from './introspection.plugin';
import { complexityCheck, complexityLimitPlugin, type ComplexityCheck } from './limits.plugin';
import { operationTypeRuleFor, type GraphQLTransport } from './operation-type.rule';
import { warningsPlugin } from './warnings.plugin';

/** The one GraphQL schema served by Apollo, with every limit and the field guard, and no transport. */
export interface GraphQLEngine {
  apollo: ApolloServer<RapportContext>;
  /** The composed schema, field guard applied (the one Apollo serves). */
  schema: GraphQLSchema;
  /**
   * Every validation rule a document of this transport must pass, in the order Apollo runs them
   * over HTTP: graphql-js's, then the document limits, then the operation type.
   */
  validationRules(transport: GraphQLTransport): readonly ValidationRule[];
  /** The complexity limit (`api.maxComplexity`), priced with the operation's variables. */
  checkComplexity: ComplexityCheck;
  /** The per-request context for a caller (a verified key) acting for a purpose. */
  contextFor(key: ApiKeyRecord, purpose: string | null, requestId: string, logger?: Logger): Promise<RapportContext>;
}

/**
 * Composes the schema (core and plugins), seeds the config file's field policies (an admin's later
 * edit wins), and starts Apollo Server with the document limits, the complexity limit, the
 * introspection rule and the field guard. The HTTP server and the plugin testkit both run on it, so
 * a test without HTTP runs the same rules as a request.
 */
export async function createGraphQLEngine(
  core: RapportCore,
  /** `plugins`: Apollo plugins run before the built-in ones (metrics, tracing). */
  options: { fieldGuard?: boolean; plugins?: ApolloServerPlugin<RapportContext>[] } = {},
): Promise<GraphQLEngine> {
  const fieldGuard = options.fieldGuard ?? true;
  const schema = await buildRapportSchema(core.plugins);
  // Policies from the config file, checked against the composed schema.
  const existing = new Set((await core.services.policies.all()).map((p) => `${p.type}.${p.field}`));
  for (const p of core.config.consent.policies) {
    if (existing.has(`${p.type}.${p.field}`)) continue; // an admin's later edit wins over the seed
    await core.services.policies.upsert({ purposes: [], roles: [], mask: 'null', pii: false, ...p } as FieldPolicy, (type, field) => {
      const t = schema.getType(type);
      return isObjectType(t) && field in t.getFields();
    });
  }
  const checkComplexity = complexityCheck(core.config.api.maxComplexity);
  const limits = documentLimitsRule({ ...DEFAULT_DOCUMENT_LIMITS, maxDepth: core.config.api.maxDepth });
  const rules: Record<GraphQLTransport, ValidationRule[]> = {
    http: [limits, operationTypeRuleFor('http')],
    websocket: [limits, operationTypeRuleFor('websocket')],
  };
  const allRules = { http: [...specifiedRules, ...rules.http], websocket: [...specifiedRules, ...rules.websocket] };
  const apollo = new ApolloServer<RapportContext>({
    schema,
    plugins: [
      ...(options.plugins ?? []),
      ApolloServerPluginLandingPageDisabled(),
      // No @cacheControl hints exist (responses are per key and per consent, never cacheable by
      // proxies); the plugin would still wrap every field resolver to compute a policy.
      ApolloServerPluginCacheControlDisabled(),
      introspectionAccessPlugin(),
      complexityLimitPlugin(checkComplexity),
      databaseUnavailablePlugin(),
      guardPlugin(core),
      warningsPlugin(),
    ],
    parseOptions: { maxLexicalTokens: MAX_TOKENS },
    validationRules: rules.http,
    formatError,
    // Compact JSON: Apollo's default pretty-prints every response (indentation costs bytes and CPU).
    stringifyResult: (result) => JSON.stringify(result),
    introspection: true,
    // No "Did you mean ...?" field suggestions: they would show the schema to keys that may not
    // introspect it (ingest keys, which browsers hold).
    hideSchemaDetailsFromClientErrors: true,
    // The CLI (and a cluster worker) handle SIGINT/SIGTERM: they close Fastify, whose onClose stops
    // Apollo. Apollo's own handlers would stop it a second time, racing that close.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: process.env.NODE_ENV === 'development',
    logger: {
      debug: (m) => core.logger.debug(m),
      info: (m) => core.logger.info(m),
      warn: (m) => core.logger.warn(m),
      error: (m) => core.logger.error(m),
    },
  });
  await apollo.start();
  return {
    apollo,
    schema,
    validationRules: (transport) => allRules[transport],
    checkComplexity,
    async contextFor(key, purpose, requestId, logger = core.logger) {
      return createContext({
        core,
        key,
        requestId,
        purpose,
        logger,
        loaders: () => createLoaders(core),
        guard: fieldGuard ? (loadConsents, peekConsents) => createRequestGuard(core.services, key, purpose, core.config.consent.piiTraits, loadConsents, peekConsents) : undefined,
      });
    },
  };
}

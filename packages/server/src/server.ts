import { randomUUID } from 'node:crypto';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import cors from '@fastify/cors';
import { createRapport, type ApiKeyRecord, type CreateRapportOptions, type RapportConfigInput, type RapportCore } from '@rapport/core/internal';
import { createGraphQLEngine } from './graphql/graphql-engine';
import { PURPOSE_HEADER, purposeFor } from './graphql/request-purpose';
import { registerSubscriptions } from './graphql/subscription.transport';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { authenticate } from './http/api-key.auth';
import { registerRateLimits } from './http/rate-limit.hook';
import { registerRequestLoad } from './http/request-load.hook';
import { errorHandler, toRapportError } from './http/error-reply';
import { segmentRoutes } from './http/segment.routes';
import { segmentSettingsRoutes } from './http/segment-settings.routes';
import { graphiqlPage, registerGraphiql } from './graphql/graphiql.route';
import { registerMetrics } from './observability/metrics.routes';
import { graphqlMetricsPlugin } from './observability/graphql-metrics.plugin';
import { registerRequestLog } from './observability/request-log.hook';
import { otlpTracesEndpoint, startTracing, type TracingOptions } from './observability/tracing';

export { PURPOSE_HEADER } from './graphql/request-purpose';

declare module 'fastify' {
  interface FastifyRequest {
    rapportKey?: ApiKeyRecord;
    rapportPurpose?: string | null;
  }
}

/**
 * Node's http timeouts for a request timeout: the headers must come within it as well (Node ignores
 * a request timeout shorter than the headers timeout), and Node checks them every
 * `connectionsCheckingInterval`, a fraction of it (default 30 s: a 2 s timeout would fire late).
 */
function httpTimeouts(requestTimeoutMs: number): { requestTimeout: number; headersTimeout?: number; connectionsCheckingInterval: number } {
  if (!requestTimeoutMs) return { requestTimeout: 0, connectionsCheckingInterval: 30_000 };
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(requestTimeoutMs / 4))),
  };
}

/** Options of {@link createServer} and {@link startServer} beyond the core's. */
export interface ServerOptions {
  /**
   * For `bench/read-vs-postgraphile.bench.mjs` only, which prices the field guard against a build
   * without it: GraphQL requests run with no field guard (no policy, consent or audit applies).
   * Never set it for a server anyone reads data from; the server logs a warning when it is set.
   */
  benchmarkWithoutFieldGuard?: boolean;
  /**
   * Tracing: on when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
   * `OTEL_EXPORTER_OTLP_ENDPOINT`), or when an `exporter` is given here (tests). Off, the
   * OpenTelemetry SDK is not loaded.
   */
  tracing?: TracingOptions;
}

/**
 * Builds the HTTP server (not yet listening): the Segment tracking API under `/v1`, GraphQL at
 * `/graphql` (GraphiQL for browsers; subscriptions over WebSocket upgrades of the same path),
 * `/health`, CORS, per-key rate limits, structured logs carrying the request id.
 */
export async function createServer(core: RapportCore, serverOptions: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: core.logger as unknown as FastifyBaseLogger,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128 ? req.headers['x-request-id'] : randomUUID()),
    // Fastify's own request lines log raw URLs (query strings); registerRequestLog logs one line instead.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: core.config.ingestion.maxBatchBytes,
    trustProxy: process.env.RAPPORT_TRUST_PROXY === '1',
    // A whole request (headers and body) must arrive within this, or 408 and the connection closes:
    // slow-body clients cannot hold connections open.
    requestTimeout: core.config.api.requestTimeoutMs,
    http: httpTimeouts(core.config.api.requestTimeoutMs),
  });
  app.setErrorHandler(errorHandler);
  // First, so that the request's span is current in every later hook.
  const tracing = serverOptions.tracing?.exporter || otlpTracesEndpoint() ? startTracing(core, serverOptions.tracing) : null;
  tracing?.register(app);
  registerMetrics(app, core);
  registerRequestLog(app);
  registerRequestLoad(app, core.requestLoad);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  await app.register(cors, {
    origin: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'content-encoding', 'x-api-key', PURPOSE_HEADER, 'x-request-id', 'apollo-require-preflight', 'x-retry-count'],
    maxAge: 86400,
  });
  await registerRateLimits(app, core);

  await app.register(segmentRoutes, { core });
  await app.register(segmentSettingsRoutes, { core });
  app.get('/health', async () => {
    await core.db.query('SELECT 1');
    return { status: 'ok' };
  });
  // Liveness: the process answers (no database: an outage must not get the process restarted).
  app.get('/livez', async () => ({ status: 'ok' }));
  // Readiness: the database answers; migrations ran and plugins started before this route existed,
  // and while the server closes Fastify answers 503. A load balancer sends traffic on 200 only.
  app.get('/readyz', async () => {
    await core.db.query('SELECT 1');
    return { status: 'ready' };
  });

  const engine = await createGraphQLEngine(core, {
    fieldGuard: !serverOptions.benchmarkWithoutFieldGuard,
    plugins: [graphqlMetricsPlugin(core.metrics), ...(tracing ? [tracing.apolloPlugin] : [])],
  });
  const { apollo, contextFor } = engine;
  if (serverOptions.benchmarkWithoutFieldGuard) core.logger.warn('the field guard is OFF (benchmarkWithoutFieldGuard): no policy, consent or audit applies to GraphQL reads');

  const wantsPage = registerGraphiql(app);
  const page = graphiqlPage('/graphql');
  const handler = fastifyApolloHandler(apollo, {
    context: async (req) => contextFor(req.rapportKey!, req.rapportPurpose ?? null, req.id, req.log as unknown as RapportCore['logger']),
  });
  const graphqlAuth = async (req: FastifyRequest) => {
    req.rapportKey = await authenticate(core, req);
    req.rapportPurpose = await purposeFor(core, req.headers[PURPOSE_HEADER], req.rapportKey);
  };
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    preHandler: async (req, reply) => {
      if (req.method === 'GET' && wantsPage(req.headers.accept) && !(req.query as Record<string, unknown>)?.query) {
        return reply.header('content-type', 'text/html; charset=utf-8').send(page);
      }
      try {
        await graphqlAuth(req);
      } catch (err) {
        const e = toRapportError(err as Error);
        if (!e) throw err;
        const retryAfter = (e as { retryAfterSeconds?: number }).retryAfterSeconds;
        if (retryAfter) reply.header('retry-after', String(retryAfter));
        return reply
          .status(e.status)
          .type('application/json')
          .send(JSON.stringify({ errors: [{ message: e.message, extensions: { code: e.code, ...(e.field ? { field: e.field, rule: e.rule } : {}) } }] }));
      }
    },
    handler: tracing ? tracing.wrapGraphqlHandler(handler) : handler,
  });
  // Subscriptions: graphql-transport-ws upgrades of /graphql. Their sockets close first at
  // shutdown (1001), before Fastify stops accepting and drains HTTP.
  const subscriptions = registerSubscriptions(app, core, engine);
  app.addHook('preClose', async () => {
    await subscriptions.close();
  });
  // Fastify drains HTTP on close; Apollo stops after it (its own drain plugin would call
  // fastify.close() from inside this hook and wait for itself).
  app.addHook('onClose', async () => {
    await apollo.stop();
  });
  return app;
}

/** A running Rapport: core, HTTP server, and its address. */
export interface RapportServer {
  core: RapportCore;
  app: FastifyInstance;
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  url: string;
  close(): Promise<void>;
}

/** Starts core and the HTTP server. `port: 0` picks a free port (tests). */
export async function startServer(
  config: RapportConfigInput & { port?: number; host?: string } = {},
  options: CreateRapportOptions & ServerOptions = {},
): Promise<RapportServer> {
  const core = await createRapport(config, options);
  let app: FastifyInstance;
  try {
    app = await createServer(core, options);
    await app.listen({ port: config.port ?? Number(process.env.PORT ?? 4000), host: config.host ?? process.env.HOST ?? '127.0.0.1' });
  } catch (err) {
    await core.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host ?? process.env.HOST ?? '127.0.0.1';
  return {
    core, app, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () => closeGracefully(app, core),
  };
}

/**
 * Stops in order: refuse new connections (and answer 503 on kept-alive ones) while requests in
 * flight finish, for at most `api.shutdownGraceMs`; then close the connections still open; then
 * the core (queued matching, plugins' shutdown hooks that deliver what they owe, the pool, and the
 * embedded PostgreSQL last).
 */
async function closeGracefully(app: FastifyInstance, core: RapportCore): Promise<void> {
  const graceMs = core.config.api.shutdownGraceMs;
  let timer: NodeJS.Timeout | undefined;
  const closed = app.close().then(() => true);
  const inTime = await Promise.race([closed, new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
  clearTimeout(timer);
  if (!inTime) {
    core.logger.warn({ graceMs }, 'requests still in flight after the shutdown grace period; closing their connections');
    app.server.closeAllConnections();
    await closed;
  }
  await core.close();
}

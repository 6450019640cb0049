import type { ApolloServerPlugin } from '@apollo/server';
import type * as Api from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { RapportCore } from '@rapport/core/internal';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { routeOf } from './metrics.routes';

/** How a server traces, when it does. */
export interface TracingOptions {
  /**
   * Where spans go instead of OTLP (tests: `InMemorySpanExporter`); exported one by one as they
   * end. Given, tracing is on whatever the environment says.
   */
  exporter?: SpanExporter;
}

/** The OTLP traces URL the environment names, or undefined (tracing off). */
export function otlpTracesEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** The attribute every Rapport span of a request carries: the request id (`X-Request-Id`). */
export const REQUEST_ID_ATTRIBUTE = 'rapport.request_id';

/** A server's tracing: hooks on its Fastify app and Apollo, and the statement tracer on its database. */
export interface ServerTracing {
  /** The Apollo plugin that names the GraphQL span after the operation. */
  apolloPlugin: ApolloServerPlugin;
  /** Wraps the `/graphql` handler so that Apollo, resolvers and their SQL run under the GraphQL span. */
  wrapGraphqlHandler<H extends (this: FastifyInstance, req: FastifyRequest<any>, reply: FastifyReply<any>) => unknown>(handler: H): H;
  /** Adds the HTTP span hooks to the app, and ends tracing (flushing spans) when the app closes. */
  register(app: FastifyInstance): void;
}

/**
 * Starts tracing for one server: an HTTP server span per request (named `METHOD /route/pattern`),
 * a GraphQL span inside it named after the operation (`query ProfileCard`), and a client span per
 * SQL statement core and plugins run through the database while the request is being handled, all
 * in the request's trace, each with the request id. Statements run outside requests (delivery,
 * jobs, polling), or after the span they would belong to has ended, are not traced. An incoming W3C `traceparent` header makes the request part of
 * the caller's trace.
 *
 * The spans are made by hand (Fastify hooks, an Apollo plugin, a wrapper on core's statement path)
 * rather than by OpenTelemetry's instrumentations that patch `http`, `pg` and `graphql` when they
 * are loaded: those work only if registered before the modules load (not true when Rapport is
 * embedded, or under a test runner), and they would record the raw URL (query strings, a write key
 * in `/v1/projects/:writeKey/settings`), where these spans record the route pattern only.
 *
 * The OpenTelemetry SDK is loaded here, by `require`, only when this is called: a server without
 * an OTLP endpoint never loads it.
 */
export function startTracing(core: RapportCore, options: TracingOptions = {}): ServerTracing {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const api = require('@opentelemetry/api') as typeof Api;
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const { context, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT, defaultTextMapGetter } = api;

  let processor;
  if (options.exporter) {
    processor = new sdk.SimpleSpanProcessor(options.exporter);
  } else {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    processor = new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: otlpTracesEndpoint() }));
  }
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME || 'rapport' }),
    spanProcessors: [processor],
  });
  // The context manager is process-wide (OpenTelemetry's API keeps one); a second server of the
  // process reuses the first one's. The tracer provider stays this server's own.
  const manager = new AsyncLocalStorageContextManager();
  if (!context.setGlobalContextManager(manager.enable())) manager.disable();
  const tracer = provider.getTracer('rapport');
  const propagator = new W3CTraceContextPropagator();
  const httpSpans = new WeakMap<FastifyRequest, Api.Span>();
  const graphqlSpans = new WeakSet<Api.Span>();

  core.db.traceStatements((sql, run) => {
    // Outside a request, or in work a request left running after it ended (a queue's loop keeps
    // the context it was started in): not traced.
    if (!trace.getSpan(context.active())?.isRecording()) return run();
    const operation = sqlOperation(sql);
    return tracer.startActiveSpan(
      operation,
      { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': sql.length > 2000 ? `${sql.slice(0, 2000)}…` : sql } },
      async (span) => {
        try {
          return await run();
        } catch (err) {
          // The SQLSTATE only: a driver's message may quote data.
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  });

  const endHttp = (req: FastifyRequest, reply: FastifyReply | null, aborted: boolean) => {
    const span = httpSpans.get(req);
    if (!span) return;
    httpSpans.delete(req);
    if (reply) span.setAttribute('http.response.status_code', reply.statusCode);
    if (aborted || (reply && reply.statusCode >= 500)) span.setStatus({ code: SpanStatusCode.ERROR, message: aborted ? 'client aborted' : undefined });
    span.end();
  };

  return {
    apolloPlugin: {
      async requestDidStart() {
        return {
          async didResolveOperation({ operation }) {
            const span = trace.getActiveSpan();
            if (!span || !graphqlSpans.has(span) || !operation) return;
            const name = operation.name?.value;
            span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
            span.setAttribute('graphql.operation.type', operation.operation);
            if (name) span.setAttribute('graphql.operation.name', name);
          },
          async willSendResponse({ response }) {
            const span = trace.getActiveSpan();
            if (!span || !graphqlSpans.has(span)) return;
            const body = response.body;
            const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
            if (errors?.length) {
              span.setAttribute('rapport.graphql.error_codes', [...new Set(errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')))]);
              span.setStatus({ code: SpanStatusCode.ERROR });
            }
          },
        };
      },
    },

    wrapGraphqlHandler<H extends (this: FastifyInstance, req: FastifyRequest<any>, reply: FastifyReply<any>) => unknown>(handler: H): H {
      return function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
        const parent = context.active();
        const span = tracer.startSpan('graphql', { attributes: { [REQUEST_ID_ATTRIBUTE]: req.id } }, parent);
        graphqlSpans.add(span);
        const run = async () => {
          try {
            return await handler.call(this, req, reply);
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw err;
          } finally {
            span.end();
          }
        };
        return context.with(trace.setSpan(parent, span), run);
      } as H;
    },

    register(app) {
      app.addHook('onRequest', (req, _reply, done) => {
        const route = routeOf(req);
        const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
        const span = tracer.startSpan(
          `${req.method} ${route}`,
          { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route, [REQUEST_ID_ATTRIBUTE]: req.id } },
          parent,
        );
        httpSpans.set(req, span);
        // The rest of the request (body parsing, later hooks, the handler, their SQL) runs in this
        // context, a body that arrives in several reads included (tracing.spec.ts checks it).
        context.with(trace.setSpan(parent, span), done);
      });
      app.addHook('onResponse', async (req, reply) => endHttp(req, reply, false));
      app.addHook('onRequestAbort', async (req) => endHttp(req, null, true));
      app.addHook('onClose', async () => {
        core.db.traceStatements(null);
        // Flush what is queued, for at most 5 s: an unreachable collector must not hold up a shutdown.
        let timer: NodeJS.Timeout | undefined;
        const flushed = provider.shutdown().then(
          () => true,
          (err: unknown) => (core.logger.warn({ err }, 'flushing traces at shutdown failed'), true),
        );
        if (!(await Promise.race([flushed, new Promise<false>((r) => (timer = setTimeout(() => r(false), 5_000)))]))) {
          core.logger.warn('traces not flushed within 5 s at shutdown; dropping them');
        }
        clearTimeout(timer);
      });
      // The endpoint's origin only: a URL may carry credentials.
      const endpoint = options.exporter ? undefined : new URL(otlpTracesEndpoint() ?? 'http://localhost:4318').origin;
      core.logger.info({ exporter: options.exporter ? 'custom' : 'otlp', endpoint }, 'tracing on');
    },
  };
}

/**
 * A statement's operation, for its span's name and `db.operation.name`: its first keyword, or for a
 * `WITH` query what it does: the first data-modifying statement of its CTEs (`WITH ins AS (INSERT
 * ...) SELECT ...` inserts), else the keyword of its main statement (the first at depth 0).
 */
export function sqlOperation(sql: string): string {
  const first = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'SQL';
  if (first !== 'WITH') return first;
  const modifying = /\bAS\s*(?:(?:NOT\s+)?MATERIALIZED\s*)?\(\s*(INSERT|UPDATE|DELETE|MERGE)\b/i.exec(sql);
  if (modifying) return modifying[1]!.toUpperCase();
  let depth = 0;
  for (const m of sql.matchAll(/[()]|\b(SELECT|INSERT|UPDATE|DELETE|MERGE)\b/gi)) {
    if (m[0] === '(') depth++;
    else if (m[0] === ')') depth--;
    else if (depth === 0) return m[1]!.toUpperCase();
  }
  return first;
}

import { boundedLabel, LATENCY_BUCKETS, Permission, RapportError, type RapportCore } from '@rapport/core/internal';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate } from '../http/api-key.auth';
import { createMetricsExporter } from './prometheus.exporter';

/** Methods a route label may carry; anything else is `other` (Node accepts a few dozen). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route pattern of a request (`/v1/projects/:writeKey/settings`), never its URL; `unmatched` for a 404 without a route. */
export function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? 'unmatched';
}

/**
 * HTTP metrics and the Prometheus endpoint:
 * - every response is observed in `rapport_http_request_duration_seconds{method, route, status}`,
 *   `route` being the route's pattern (bounded by the routes that exist, never a raw URL, id or key);
 * - `GET /metrics` answers the Prometheus text format to a key whose roles grant `metrics:read`
 *   (the built-in `metrics` role, or `admin`): 401 without a valid key, 403 for any other key.
 *   In a cluster, the answer covers every worker (see {@link createMetricsExporter}).
 */
export function registerMetrics(app: FastifyInstance, core: RapportCore): void {
  const latency = core.metrics.histogram(
    'rapport_http_request_duration_seconds',
    'HTTP requests by method, route pattern and status, with the time to answer them, in seconds.',
    ['method', 'route', 'status'],
    LATENCY_BUCKETS,
  );
  // Route patterns are bounded by the routes registered; the cap guards against a plugin that
  // registers routes per something unbounded.
  const route = boundedLabel(200);
  app.addHook('onResponse', async (req, reply) => {
    latency.observe(
      { method: METHODS.has(req.method) ? req.method : 'other', route: route(routeOf(req)), status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const exporter = createMetricsExporter(core.metrics, (err) => core.logger.warn({ err }, 'a metric could not be refreshed; it keeps its last value'));
  app.get('/metrics', async (req, reply) => {
    const key = await authenticate(core, req);
    if (!core.services.roles.can(key.roles, Permission.MetricsRead)) {
      throw new RapportError('FORBIDDEN', `/metrics needs the ${Permission.MetricsRead} permission: use a key with the "metrics" role (rapport keys create --role metrics)`, 'authorization', 'permission');
    }
    const text = await exporter.scrape();
    return reply.header('content-type', exporter.contentType).header('cache-control', 'no-store').send(text);
  });
}

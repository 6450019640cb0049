import type { FastifyInstance } from 'fastify';
import { routeOf } from './metrics.routes';

/** Routes polled by orchestrators and scrapers: their answers are logged at debug, unless they fail. */
const PROBES = new Set(['/health', '/livez', '/readyz', '/metrics']);

/**
 * One log line per answered request, at info: `{ requestId, method, route, status, ms, keyId }`
 * with the message `request`. `route` is the route's pattern (`/v1/projects/:writeKey/settings`),
 * never the URL: no query string, no ids or keys from the path; `keyId` is the id of the API key
 * that authenticated (absent when none did), never the key. No body, header or client address is
 * logged. Probe routes (`/health`, `/livez`, `/readyz`, `/metrics`) log at debug unless they answer
 * 4xx or 5xx. Fastify's own request logging (which logs raw URLs) stays off.
 */
export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = routeOf(req);
    const status = reply.statusCode;
    const line = { method: req.method, route, status, ms: Math.round(reply.elapsedTime * 100) / 100, keyId: req.rapportKey?.id };
    if (PROBES.has(route) && status < 400) req.log.debug(line, 'request');
    else req.log.info(line, 'request');
  });
}

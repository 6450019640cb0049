import type { RequestLoad } from '@rapport/core/internal';
import type { FastifyInstance } from 'fastify';

/** Routes polled by orchestrators and scrapers: they do not make the request path busy. */
const PROBES = new Set(['/health', '/livez', '/readyz', '/metrics']);

/**
 * Marks every request in flight in `load` (core's {@link RequestLoad}), from its arrival until its response is sent or its
 * connection closes, probes excepted: plugins' deliveries step back while requests are in flight all the time.
 */
export function registerRequestLoad(app: FastifyInstance, load: RequestLoad): void {
  app.addHook('onRequest', (req, reply, done) => {
    if (!PROBES.has(req.routeOptions.url ?? '')) reply.raw.once('close', load.begin());
    done();
  });
}

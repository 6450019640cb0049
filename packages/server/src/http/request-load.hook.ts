import type { RequestLoad } from '@rapport/core/internal';
import type { FastifyInstance } from 'fastify';

/** Routes polled by orchestrators and scrapers: they do not make the request path busy. */
const PROBES = new Set(['/health', '/livez', '/readyz', '/metrics']);

/**
 * Marks every request in flight in `load` (core's {@link RequestLoad}) from the moment its body has arrived until its
 * response is sent or its connection closes, probes excepted: plugins' deliveries step back while requests are in
 * flight all the time. A client still sending its body (a slow upload, a slow-loris one) is not work the server does,
 * so it does not count; nor do requests refused before (rate limits, oversized bodies). The connection's `close` ends
 * the mark too: a pipelined response queued behind another gets no `close` of its own when the socket goes first.
 */
export function registerRequestLoad(app: FastifyInstance, load: RequestLoad): void {
  app.addHook('preValidation', (req, reply, done) => {
    if (!PROBES.has(req.routeOptions.url ?? '')) {
      const end = load.begin();
      const socket = req.raw.socket;
      const ended = () => {
        end();
        reply.raw.off('close', ended);
        socket?.off('close', ended);
      };
      reply.raw.once('close', ended);
      socket?.once('close', ended);
    }
    done();
  });
}

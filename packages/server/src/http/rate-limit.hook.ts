import rateLimit from '@fastify/rate-limit';
import { hashKey, RapportError, type RapportCore } from '@rapport/core/internal';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { keyFromRequest, rememberVerifiedKey } from './api-key.auth';

/** 429: a limit was reached; `retryAfterSeconds` becomes the `Retry-After` header. */
export class RateLimitedError extends RapportError {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', message, undefined, 'rateLimit');
    this.name = 'RateLimitedError';
  }
}

/** The `:writeKey` path parameter of the browser SDK routes, if the request has one. */
function writeKeyInPath(req: FastifyRequest): string | undefined {
  const key = (req.params as { writeKey?: unknown } | undefined)?.writeKey;
  return typeof key === 'string' ? key : undefined;
}

/** Paths never limited: load balancers and orchestrators poll them. */
const EXEMPT = new Set(['/health', '/livez', '/readyz']);

/**
 * Hashes of keys that authenticated here recently (bounded, oldest forgotten first). Only used to
 * pick a rate-limit bucket and to let a known key through while its address is blocked for failed
 * authentications; authorisation itself always goes through `authenticate`.
 */
class SeenKeys {
  private readonly hashes = new Map<string, true>();
  constructor(private readonly max: number) {}
  has(hash: string): boolean {
    return this.hashes.has(hash);
  }
  add(hash: string): void {
    this.hashes.delete(hash);
    this.hashes.set(hash, true);
    if (this.hashes.size > this.max) this.hashes.delete(this.hashes.keys().next().value!);
  }
}

/**
 * Rate limits, on `@fastify/rate-limit`'s stores:
 * - a valid key gets `rateLimitPerMinute` requests per minute, its own budget wherever it comes
 *   from; requests without a valid key share one such budget per client address;
 * - failed authentications (401: no key, unknown or revoked key) are counted per client address;
 *   past `authFailuresPerMinute` the address gets 429 for the rest of the minute, before any
 *   database lookup, except for keys already seen valid here (a misconfigured client behind the same
 *   NAT does not lock out the working ones);
 * - `/health`, `/livez` and `/readyz` are never limited.
 * Presented keys that are not valid never get a bucket of their own, so inventing keys neither
 * escapes the limit nor costs more than the failure budget in database lookups.
 */
export async function registerRateLimits(app: FastifyInstance, core: RapportCore): Promise<void> {
  const { rateLimitPerMinute, authFailuresPerMinute } = core.config.api;
  // global: false: nothing is limited by the plugin's own hooks; the hook below decides.
  await app.register(rateLimit, { global: false });
  const bucketOf = new WeakMap<FastifyRequest, string>();
  const perKey = app.createRateLimit({ max: rateLimitPerMinute, timeWindow: 60_000, keyGenerator: (req) => bucketOf.get(req) ?? `ip:${req.ip}` });
  const failures = app.createRateLimit({ max: authFailuresPerMinute, timeWindow: 60_000, keyGenerator: (req) => `fail:${req.ip}` });
  const seen = new SeenKeys(10_000);

  app.addHook('preHandler', async (req) => {
    if (EXEMPT.has(req.routeOptions.url ?? '')) return;
    // Counted once: a route that answers with the 404 handler (reply.callNotFound) runs this hook again.
    if (bucketOf.has(req)) return;
    const body = req.body as { writeKey?: unknown } | undefined;
    // The browser SDK's settings and bundle routes carry the write key in the path.
    const secret = keyFromRequest(req, body && typeof body === 'object' ? body.writeKey : writeKeyInPath(req));
    const hash = secret ? hashKey(secret) : null;
    if (!(hash && seen.has(hash))) {
      const f = await failures(req, { increment: false });
      if (!f.isAllowed && f.remaining === 0) {
        throw new RateLimitedError(
          `too many failed authentications from this address (limit ${f.max} per minute); retry in ${f.ttlInSeconds} s with a valid key`,
          Math.max(1, f.ttlInSeconds),
        );
      }
    }
    let bucket = `ip:${req.ip}`;
    if (secret && hash) {
      // verify() caches both answers for a few seconds: the route's own authentication reuses it.
      const key = await core.services.keys.verify(secret);
      if (key) rememberVerifiedKey(req, secret, key);
      const valid = key !== null;
      if (valid) {
        seen.add(hash);
        bucket = `k:${hash.slice(0, 32)}`;
      }
    }
    bucketOf.set(req, bucket);
    const r = await perKey(req);
    if (!r.isAllowed && r.isExceeded) {
      throw new RateLimitedError(`rate limit of ${r.max} requests per minute exceeded; retry in ${r.ttlInSeconds} s`, Math.max(1, r.ttlInSeconds));
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    // A write key in the path that is not valid is answered 404 (see segment-settings.routes.ts): a failure too.
    if (reply.statusCode === 401 || (reply.statusCode === 404 && writeKeyInPath(req) !== undefined)) await failures(req);
  });
}

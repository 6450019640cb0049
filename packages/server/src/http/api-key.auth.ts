import type { ApiKeyRecord, RapportCore } from '@rapport/core/internal';
import { UnauthenticatedError } from '@rapport/core/internal';
import type { FastifyRequest } from 'fastify';

/**
 * The key a request carries: `Authorization: Bearer <key>`, `Authorization: Basic base64(<key>:)`
 * (Segment's write-key convention), or `X-API-Key`. `bodyKey` is the Segment `writeKey` body field.
 */
export function keyFromRequest(req: FastifyRequest, bodyKey?: unknown): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const [scheme, value = ''] = auth.split(' ', 2);
    if (/^bearer$/i.test(scheme)) return value.trim() || null;
    if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
      return user.trim() || null;
    }
  }
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.trim()) return header.trim();
  if (typeof bodyKey === 'string' && bodyKey.trim()) return bodyKey.trim();
  return null;
}

/** Keys the rate limiter already verified for a request (hashing a key once per request is enough). */
const verified = new WeakMap<FastifyRequest, { secret: string; key: ApiKeyRecord }>();

/** Remembers that `secret`, as this request presents it, is the valid key `key`. */
export function rememberVerifiedKey(req: FastifyRequest, secret: string, key: ApiKeyRecord): void {
  verified.set(req, { secret, key });
}

/**
 * Verifies the request's key; throws a 401 error that says what to send when there is none or it is
 * not valid. The verified key is kept as `req.rapportKey` (the request log names its id).
 */
export async function authenticate(core: RapportCore, req: FastifyRequest, bodyKey?: unknown): Promise<ApiKeyRecord> {
  const secret = keyFromRequest(req, bodyKey);
  const known = verified.get(req);
  if (secret && known && known.secret === secret) return (req.rapportKey = known.key);
  if (!secret) {
    throw new UnauthenticatedError(
      'no API key: send "Authorization: Bearer <key>" (or, for the tracking API, the write key as Basic auth or "writeKey" in the body)',
    );
  }
  const key = await core.services.keys.verify(secret);
  if (!key) throw new UnauthenticatedError('the API key is not valid: it is unknown or was revoked');
  return (req.rapportKey = key);
}

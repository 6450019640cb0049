import { DatabaseUnavailableError, RapportError, unavailability } from '@rapport/core/internal';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The JSON body of every HTTP error Rapport sends outside GraphQL. */
export interface ErrorBody {
  success: false;
  error: { code: string; message: string; field?: string; rule?: string };
}

/** Maps Fastify's own errors (bad JSON, body too large, unsupported media type, rate limit) to Rapport's error shape. */
export function toRapportError(err: FastifyError | Error): RapportError | null {
  if (err instanceof RapportError) return err;
  // A driver error that reached here without going through Database (which translates them).
  if (unavailability(err)) return new DatabaseUnavailableError('unreachable', err);
  const e = err as FastifyError;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RapportError('BAD_REQUEST', `body: malformed JSON (${e.message})`, 'body', 'json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RapportError('PAYLOAD_TOO_LARGE', `body: over the size limit for this endpoint (${e.message})`, 'body', 'maxBytes');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RapportError('UNSUPPORTED_MEDIA_TYPE', `content-type: must be application/json or text/plain (${e.message})`, 'content-type', 'mediaType');
  }
  if (e.statusCode === 429) return new RapportError('RATE_LIMITED', e.message || 'rate limit exceeded', undefined, 'rateLimit');
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new RapportError('BAD_REQUEST', e.message);
  return null;
}

/** Fastify error handler: known errors as `{ success: false, error }` with their status; others as 500, logged. */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const known = toRapportError(err);
  if (known) {
    const headers = (err as { headers?: Record<string, string> }).headers;
    if (known.status === 429 && headers) reply.headers(headers);
    // 503 (database unavailable) and 429 (limits): when to come back. SDKs retry on both.
    const retryAfter = (known as { retryAfterSeconds?: number }).retryAfterSeconds;
    if (retryAfter) reply.header('retry-after', String(retryAfter));
    if (known.status === 503) req.log.warn({ code: known.code, reason: known.message }, 'database unavailable; answered 503');
    if (req.routeOptions.url === '/graphql') {
      // Refused before GraphQL ran (rate limit, database unavailable): still in GraphQL's error shape.
      const { code, message, field, rule } = known.toJSON();
      void reply.status(known.status).send({ errors: [{ message, extensions: { code, ...(field ? { field } : {}), ...(rule ? { rule } : {}) } }] });
      return;
    }
    void reply.status(known.status).send({ success: false, error: known.toJSON() } satisfies ErrorBody);
    return;
  }
  req.log.error({ err }, 'unhandled error');
  void reply.status(500).send({ success: false, error: { code: 'INTERNAL', message: `internal error; quote request id ${req.id}` } });
}

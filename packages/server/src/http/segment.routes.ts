import { Permission, ForbiddenError, RapportError, ValidationError, type MessageType, type RapportCore, type PipelineResult } from '@rapport/core/internal';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from './api-key.auth';
import { decodeBody } from './body-decoding.hook';

const SHORT: Record<string, MessageType | 'batch'> = { i: 'identify', t: 'track', p: 'page', s: 'screen', g: 'group', a: 'alias', b: 'batch' };
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The Segment HTTP tracking API: `POST /v1/{identify,track,page,screen,group,alias,batch}` and the
 * short `/v1/{i,t,p,s,g,a,b}` forms. Write key as Basic auth, Bearer, or `writeKey` in the body;
 * JSON sent as `application/json` or `text/plain` (browsers' beacon); CORS open, since keys (not
 * cookies) authorise. Bodies may be gzip or deflate (`Content-Encoding`), limits applying to the
 * decompressed bytes. Each request's valid messages are stored in one transaction.
 *
 * Status: 200 all stored; 207 some stored, the rest listed in `errors` by index; 400/413 none stored.
 */
export async function segmentRoutes(app: FastifyInstance, opts: { core: RapportCore }): Promise<void> {
  const { core } = opts;
  const limits = core.config.ingestion;
  app.addHook('preParsing', decodeBody);

  // JSON as Segment takes it: any key is an ordinary key, `__proto__` and `constructor` included
  // (JSON.parse defines own properties; core reads and writes message keys as own keys only).
  // Fastify's default parser (secure-json-parse, `protoAction: 'error'`) would refuse a whole batch
  // for one such key as "malformed JSON". Only these routes: /graphql keeps Fastify's default.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('ignore', 'ignore'));

  // Browsers post with text/plain to skip the CORS preflight; the body is still JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      const e = new Error((err as Error).message) as Error & { code: string; statusCode: number };
      e.code = 'FST_ERR_CTP_INVALID_JSON_BODY';
      e.statusCode = 400;
      done(e, undefined);
    }
  });

  const route = (kind: MessageType | 'batch') => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = req.body;
    if (!isObject(body)) throw new ValidationError('body', 'object', 'must be a JSON object');
    const key = await authenticate(core, req, body.writeKey);
    if (!core.services.roles.can(key.roles, Permission.EventsWrite)) throw new ForbiddenError(Permission.EventsWrite, key.roles);

    let result: PipelineResult;
    if (kind === 'batch') {
      const batch = body.batch;
      if (!Array.isArray(batch) || batch.length === 0) throw new ValidationError('batch', 'array', 'must be a non-empty array of messages');
      if (batch.length > limits.maxBatchMessages) {
        throw new ValidationError('batch', 'maxItems', `${batch.length} messages is over the limit of ${limits.maxBatchMessages}`);
      }
      result = await core.services.ingestion.ingest(batch, { path: 'batch', batchSentAt: body.sentAt, sourceKeyId: key.id, sourceName: key.name });
    } else {
      const { writeKey: _omit, ...message } = body;
      result = await core.services.ingestion.ingest([message], { impliedType: kind, sourceKeyId: key.id, sourceName: key.name });
    }
    return send(reply, result, kind === 'batch', core.services.roles.can(key.roles, Permission.ProfilesRead));
  };

  for (const [short, kind] of Object.entries(SHORT)) {
    const bodyLimit = kind === 'batch' ? limits.maxBatchBytes : limits.maxMessageBytes;
    app.post(`/v1/${kind}`, { bodyLimit }, route(kind));
    app.post(`/v1/${short}`, { bodyLimit }, route(kind));
  }
}

function send(reply: FastifyReply, r: PipelineResult, batch: boolean, showProfiles: boolean) {
  const errors = r.rejected.map(({ index, code, field, rule, message }) => ({ index, code, field, rule, message }));
  if (!batch) {
    if (r.rejected.length) {
      const e = r.rejected[0];
      throw new RapportError(e.code as never, e.message, e.field, e.rule);
    }
    const a = r.accepted[0];
    return reply.status(200).send({
      success: true, messageId: a.messageId, duplicate: a.duplicate, warnings: a.warnings,
      ...(a.suppressed ? { suppressed: true } : {}),
      ...(showProfiles && !a.suppressed ? { profileId: a.profileId } : {}),
    });
  }
  const status = r.rejected.length === 0 ? 200 : r.accepted.length === 0 ? (r.rejected.every((e) => e.status === 413) ? 413 : 400) : 207;
  return reply.status(status).send({
    success: r.rejected.length === 0,
    accepted: r.accepted.filter((a) => !a.duplicate && !a.suppressed).length,
    duplicates: r.accepted.filter((a) => a.duplicate).length,
    suppressed: r.accepted.filter((a) => a.suppressed).length,
    results: r.accepted.map((a) => ({
      index: a.index, messageId: a.messageId, duplicate: a.duplicate, ...(a.suppressed ? { suppressed: true } : {}),
      ...(a.warnings.length ? { warnings: a.warnings } : {}), ...(showProfiles && !a.suppressed ? { profileId: a.profileId } : {}),
    })),
    errors,
  });
}

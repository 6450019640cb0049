import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import { RapportError } from '@rapport/core/internal';
import type { FastifyReply, FastifyRequest } from 'fastify';

const DECODERS: Record<string, () => Gunzip | Inflate> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate };

/** The stream Fastify reads a body from; `receivedEncodedLength` is what it checks the content length against. */
type DecodedBody = Transform & { receivedEncodedLength: number };

/**
 * Fastify `preParsing` hook: decompresses `Content-Encoding: gzip` (or `x-gzip`) and `deflate`
 * request bodies, as Segment's SDKs and HTTP API send them. The route's body limit applies to the
 * decompressed bytes: decompression stops at the limit and the answer is 413 (a gzip bomb costs
 * no more memory than an honest body). The compressed bytes must fit the limit too. A corrupt
 * body is a 400 (`field: "content-encoding"`); any other encoding is a 415.
 */
export async function decodeBody(req: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> {
  const header = req.headers['content-encoding'];
  const encoding = (Array.isArray(header) ? header.join(',') : header ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return payload;
  const make = DECODERS[encoding];
  if (!make) {
    throw new RapportError('UNSUPPORTED_MEDIA_TYPE', `content-encoding: ${JSON.stringify(encoding)} is not supported; send gzip, deflate or none`, 'content-encoding', 'encoding');
  }
  const limit = req.routeOptions.bodyLimit ?? Infinity;
  const decoder = make();
  let decoded = 0;
  const body = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      decoded += chunk.length;
      if (decoded <= limit) return done(null, chunk);
      payload.unpipe(decoder);
      decoder.destroy();
      done(new RapportError('PAYLOAD_TOO_LARGE', `body: over the size limit of ${limit} bytes for this endpoint once decompressed`, 'body', 'maxBytes'));
    },
  }) as DecodedBody;
  body.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    body.receivedEncodedLength += chunk.length;
  });
  decoder.on('error', (err) => {
    body.destroy(new RapportError('BAD_REQUEST', `content-encoding: the body is not valid ${encoding} (${err.message})`, 'content-encoding', encoding));
  });
  // Fastify stops listening once it has answered; a late error must not go unhandled.
  body.on('error', () => undefined);
  payload.pipe(decoder).pipe(body);
  return body;
}

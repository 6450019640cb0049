import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A content coding this server sends static files in. */
export type ContentCoding = 'br' | 'gzip' | 'identity';

/** A static file served from an installed package. */
export interface AssetSpec {
  /** Absolute path of the file. */
  file: string;
  /** Its `Content-Type`. */
  type: string;
  /** `Cache-Control` for it. */
  cacheControl: string;
  /** A file next to it holding its gzip (npm packages often ship `x.js.gz`): used instead of compressing it again. */
  gzipFile?: string;
}

// Looked up on the module at each call (not bound once), so a test can count the compressions.
const brotli = (b: Buffer, o: zlib.BrotliOptions) => promisify(zlib.brotliCompress)(b, o);
const gzip = (b: Buffer, o: zlib.ZlibOptions) => promisify(zlib.gzip)(b, o);
const gunzip = (b: Buffer) => promisify(zlib.gunzip)(b);

/**
 * Quality 9: graphiql.min.js (978 KB) becomes 284 KB in about 0.6 s; quality 11 saves another
 * 24 KB for six times the CPU, which the first visitor would wait for.
 */
const BROTLI_QUALITY = 9;

/**
 * The coding to send, from `Accept-Encoding` (RFC 9110 12.5.3): `br` before `gzip` when both are
 * acceptable (q > 0, by name or by `*`), else the file as it is.
 */
export function pickCoding(acceptEncoding: string | string[] | undefined): ContentCoding {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding ?? '';
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    q.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(value) ? value : 0);
  }
  const acceptable = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (acceptable('br')) return 'br';
  if (acceptable('gzip')) return 'gzip';
  return 'identity';
}

interface Loaded {
  raw: Buffer;
  /** SHA-256 of the file, base64url, shortened: the entity tag's root. */
  digest: string;
  coded: Map<ContentCoding, Promise<Buffer>>;
}

/**
 * Serves a fixed set of static files, each compressed with brotli and gzip once per process (on the
 * first request that wants that coding, off the event loop; requests arriving meanwhile wait for
 * the same work), never per request. Answers carry `Content-Encoding`, `Vary: Accept-Encoding`
 * (added to any `Vary` already set, such as CORS's `Origin`), a strong `ETag` of the file's content
 * and coding (so `If-None-Match` gets a 304) and the file's `Cache-Control`.
 */
export class CompressedAssets {
  private readonly loaded = new Map<string, Promise<Loaded>>();

  constructor(private readonly specs: ReadonlyMap<string, AssetSpec>) {}

  /** True when `name` is one of the files served. */
  has(name: string): boolean {
    return this.specs.has(name);
  }

  /**
   * Sends the file `name` (which must exist: check with {@link has}) in the best coding the request
   * accepts, with the file's `Cache-Control` unless `cacheControl` says otherwise.
   */
  async send(req: FastifyRequest, reply: FastifyReply, name: string, cacheControl?: string): Promise<FastifyReply> {
    const spec = this.specs.get(name)!;
    const asset = await this.load(name, spec);
    const coding = pickCoding(req.headers['accept-encoding']);
    // Each coding is its own representation, so its own entity tag (as Apache's `-gzip` suffix).
    const etag = coding === 'identity' ? `"${asset.digest}"` : `"${asset.digest}-${coding}"`;
    const vary = reply.getHeader('vary');
    reply
      .header('vary', vary ? `${String(vary)}, Accept-Encoding` : 'Accept-Encoding')
      .header('cache-control', cacheControl ?? spec.cacheControl)
      .header('etag', etag);
    if (etagMatches(req.headers['if-none-match'], etag)) return reply.status(304).send();
    reply.header('content-type', spec.type);
    if (coding === 'identity') return reply.send(asset.raw);
    return reply.header('content-encoding', coding).send(await this.coded(asset, spec, coding));
  }

  private load(name: string, spec: AssetSpec): Promise<Loaded> {
    let p = this.loaded.get(name);
    if (!p) {
      p = fs.readFile(spec.file).then((raw) => ({
        raw,
        digest: createHash('sha256').update(raw).digest('base64url').slice(0, 27),
        coded: new Map(),
      }));
      // A failed read is not remembered: the next request tries again.
      p.catch(() => this.loaded.delete(name));
      this.loaded.set(name, p);
    }
    return p;
  }

  private coded(asset: Loaded, spec: AssetSpec, coding: 'br' | 'gzip'): Promise<Buffer> {
    let p = asset.coded.get(coding);
    if (!p) {
      p = coding === 'br'
        ? brotli(asset.raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: asset.raw.length } })
        : spec.gzipFile
          ? shippedGzip(spec.gzipFile, asset.raw).then((shipped) => shipped ?? gzip(asset.raw, { level: 9 }))
          : gzip(asset.raw, { level: 9 });
      p.catch(() => asset.coded.delete(coding));
      asset.coded.set(coding, p);
    }
    return p;
  }
}

/** A shipped `.gz` file, when it is there and decodes to exactly `raw` (never trust it blindly); else null. */
async function shippedGzip(file: string, raw: Buffer): Promise<Buffer | null> {
  try {
    const coded = await fs.readFile(file);
    return (await gunzip(coded)).equals(raw) ? coded : null;
  } catch {
    return null;
  }
}

/** `If-None-Match` names this entity tag (or `*`). Weak comparison, as RFC 9110 13.1.2 asks for GET. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** The first 16 characters of a file's SHA-256 (base64url), to version its URL. Reads the file: call it once, at start. */
export function contentVersion(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('base64url').slice(0, 16);
}

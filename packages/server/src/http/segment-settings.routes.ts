import fs from 'node:fs';
import path from 'node:path';
import { Permission, ValidationError, type ApiKeyRecord, type RapportCore } from '@rapport/core/internal';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CompressedAssets, type AssetSpec } from './compressed-asset';

/** Where `@segment/analytics-next` fetches a source's settings from its `cdnURL`. */
export const SETTINGS_PATH = '/v1/projects/:writeKey/settings';

/** Where the Segment snippet loads the standalone bundle from, its host replaced by this server's. */
export const SNIPPET_BUNDLE_PATH = '/analytics.js/v1/:writeKey/analytics.min.js';

/** Where the SDK's UMD bundles load their lazy chunks from (`<cdn>/analytics-next/bundles/`). */
export const BUNDLES_PATH = '/analytics-next/bundles/:file';

/** A host as `Host` or `X-Forwarded-Host` may name it: a DNS name or IPv4 address, or an IPv6 literal, with an optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::\d{1,5})?$/;

/**
 * The settings `@segment/analytics-next` reads for a source (its "CDN settings"), as Rapport
 * serves them: only the `Segment.io` integration, pointed at this server, so the SDK loads no
 * destination code and sends everything here; its own telemetry to Segment is off
 * (`metrics.sampleRate: 0`).
 */
export interface SegmentCdnSettings {
  integrations: {
    'Segment.io': {
      /** The write key; the SDK puts it on every message and sends it as Basic auth. */
      apiKey: string;
      /** Host and path of the tracking API, without scheme, e.g. `rapport.example.com/v1`. */
      apiHost: string;
      protocol: 'http' | 'https';
      addBundledMetadata: false;
      unbundledIntegrations: string[];
      maybeBundledConfigIds: Record<string, string[]>;
    };
  };
  metrics: { sampleRate: 0 };
  remotePlugins: [];
  enabledMiddleware: Record<string, boolean>;
  legacyVideoPluginsEnabled: false;
  edgeFunction: Record<string, never>;
}

/**
 * The tracking API's public address as this request sees it: `X-Forwarded-Proto` and
 * `X-Forwarded-Host` when the server trusts its proxy (`RAPPORT_TRUST_PROXY=1`, Fastify's
 * `trustProxy`), else the connection's scheme and the `Host` header. A malformed host or scheme
 * is a 400 naming the header, never copied into the settings.
 */
export function publicOrigin(req: FastifyRequest): { protocol: 'http' | 'https'; host: string } {
  const forwarded = req.host !== (req.headers.host ?? '');
  const host = req.host;
  if (!HOST.test(host)) {
    const header = forwarded ? 'x-forwarded-host' : 'host';
    throw new ValidationError(header, 'host', `${JSON.stringify(host.slice(0, 100))} is not a host name with an optional port`);
  }
  const protocol = (req.protocol ?? '').toLowerCase();
  if (protocol !== 'http' && protocol !== 'https') {
    throw new ValidationError('x-forwarded-proto', 'enum', `${JSON.stringify(protocol.slice(0, 20))} is not http or https`);
  }
  return { protocol, host };
}

/** The settings for a valid write key, seen from this request. */
export function settingsFor(writeKey: string, req: FastifyRequest): SegmentCdnSettings {
  const { protocol, host } = publicOrigin(req);
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${host}/v1`,
        protocol,
        addBundledMetadata: false,
        unbundledIntegrations: [],
        maybeBundledConfigIds: {},
      },
    },
    metrics: { sampleRate: 0 },
    remotePlugins: [],
    enabledMiddleware: {},
    legacyVideoPluginsEnabled: false,
    edgeFunction: {},
  };
}

/** The bundles of the installed `@segment/analytics-next` (`dist/umd`), or null when it is not installed. */
function sdkBundles(): CompressedAssets | null {
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');
  } catch {
    return null;
  }
  const specs = new Map<string, AssetSpec>();
  for (const name of fs.readdirSync(dir)) {
    if (!/\.js(\.map)?$/.test(name)) continue;
    // Chunk names carry their content hash (`407.bundle.61efa1ac….js`): cached for good.
    const hashed = /\.bundle\.[0-9a-f]{8,}\.js/.test(name);
    specs.set(name, {
      file: path.join(dir, name),
      type: name.endsWith('.map') ? 'application/json' : 'application/javascript; charset=utf-8',
      cacheControl: hashed ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
      gzipFile: path.join(dir, `${name}.gz`),
    });
  }
  return new CompressedAssets(specs);
}

/**
 * The Segment browser SDK (`@segment/analytics-next`), self-hosted:
 * - `GET /v1/projects/:writeKey/settings`: what `AnalyticsBrowser.load({ writeKey, cdnURL })`
 *   fetches first ({@link SegmentCdnSettings}), pointing the SDK's `Segment.io` integration at
 *   this server's `/v1`.
 * - `GET /analytics.js/v1/:writeKey/analytics.min.js`: the standalone bundle, for the Segment
 *   snippet with its host replaced by this server's.
 * - `GET /analytics-next/bundles/:file`: the UMD bundles and the chunks they load lazily
 *   (`trackLink`, `trackForm`, `addSourceMiddleware`, `ajs_` query strings) once `cdnURL` or the
 *   snippet's `analytics._cdn` names this server.
 *
 * A key that is unknown, revoked or may not send events (`events:write`) gets the server's plain
 * 404, the same as any unknown route: the answer tells nothing more than the path does. Rate limits
 * apply as to the other tracking routes (see `rate-limit.hook.ts`). The bundle routes are there
 * only when the SDK package is installed.
 */
export async function segmentSettingsRoutes(app: FastifyInstance, opts: { core: RapportCore }): Promise<void> {
  const { core } = opts;

  /** The key when `writeKey` is a valid key that may send events, else null. */
  const writeKeyOf = async (writeKey: string): Promise<ApiKeyRecord | null> => {
    const key = await core.services.keys.verify(writeKey);
    return key && core.services.roles.can(key.roles, Permission.EventsWrite) ? key : null;
  };

  app.get<{ Params: { writeKey: string } }>(SETTINGS_PATH, async (req, reply) => {
    const key = await writeKeyOf(req.params.writeKey);
    if (!key) return reply.callNotFound();
    if (core.services.roles.can(key.roles, Permission.ProfilesRead)) {
      req.log.warn({ keyId: key.id, roles: key.roles }, 'browser SDK settings served for a key that may also read profiles: a key in a web page should have the ingest role only');
    }
    // private: shared caches must not keep an answer built from this request's Host headers.
    return reply.header('cache-control', 'private, max-age=60').send(settingsFor(req.params.writeKey, req));
  });

  const bundles = sdkBundles();
  if (!bundles) {
    core.logger.info('@segment/analytics-next is not installed: the SDK bundles are not served (settings are)');
    return;
  }
  app.get<{ Params: { writeKey: string } }>(SNIPPET_BUNDLE_PATH, async (req, reply) => {
    if (!(await writeKeyOf(req.params.writeKey))) return reply.callNotFound();
    return bundles.send(req, reply, 'standalone.js');
  });
  app.get<{ Params: { file: string } }>(BUNDLES_PATH, async (req, reply) => {
    if (!bundles.has(req.params.file)) return reply.callNotFound();
    return bundles.send(req, reply, req.params.file);
  });
}

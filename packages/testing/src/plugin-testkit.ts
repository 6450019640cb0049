import { randomUUID } from 'node:crypto';
import { createRapport, type ApiKeyRecord, type DeliveryStatus, type PipelineResult, type RapportConfigInput, type RapportCore, type RapportPlugin } from '@rapport/core/internal';
import { createGraphQLEngine, type GraphQLEngine } from '@rapport/server';
import { createTestDatabase, type TestDatabase } from './test-database';

/** Who a testkit operation acts as: a key with these roles and purposes, acting for `purpose`. */
export interface TestkitCaller {
  /** Default `['admin']`. */
  roles?: string[];
  /** The purposes the key may act for (default none). */
  purposes?: string[];
  /** The request's purpose (as the `X-Rapport-Purpose` header names it); default the key's only purpose. */
  purpose?: string | null;
}

/** The answer of {@link PluginTestkit.graphql}: GraphQL's `data` and `errors`. */
export interface TestkitResult<T = any> {
  data?: T | null;
  errors?: Array<{ message: string; path?: ReadonlyArray<string | number>; extensions?: Record<string, any> }>;
}

/**
 * A plugin (or several) on core and a real PostgreSQL, without HTTP: the composed schema with the
 * same limits and field guard as the server, ingestion as the tracking API does it, and the
 * plugins' durable event delivery, with a way to wait for it. Envelop's `createTestkit` is the model.
 */
export interface PluginTestkit {
  core: RapportCore;
  database: TestDatabase;
  /** Runs a GraphQL operation as `caller` (default: an admin key). */
  graphql<T = any>(query: string, variables?: Record<string, unknown>, caller?: TestkitCaller): Promise<TestkitResult<T>>;
  /** Ingests Segment messages (`identify`, `track`, ...: each with its `type`) as `/v1/batch` does. */
  ingest(messages: Array<Record<string, unknown>>): Promise<PipelineResult>;
  /** Resolves once every plugin's delivery has caught up with what is stored (lag 0), or rejects after `timeoutMs`. */
  settle(timeoutMs?: number): Promise<DeliveryStatus[]>;
  close(): Promise<void>;
}

/**
 * Starts core with `plugins` on a fresh database of the test run's PostgreSQL (run under the
 * repository's vitest config, whose global setup provides it). `config` takes any
 * `rapport.config.js` option; delivery polls every 50 ms unless it says otherwise.
 *
 * ```ts
 * const kit = await createPluginTestkit([loyaltyPlugin()]);
 * await kit.ingest([{ type: 'track', userId: 'u1', event: 'Order Completed', properties: { revenue: 120 } }]);
 * await kit.settle();
 * const r = await kit.graphql(`{ profileByIdentity(type: "user_id", value: "u1") { loyaltyTier } }`);
 * ```
 */
export async function createPluginTestkit(plugins: RapportPlugin[], config: RapportConfigInput = {}): Promise<PluginTestkit> {
  const database = await createTestDatabase();
  let core: RapportCore;
  let engine: GraphQLEngine;
  try {
    core = await createRapport({ ...config, plugins, delivery: { pollMs: 50, ...config.delivery }, database: { ...config.database, url: database.url } });
  } catch (err) {
    await database.drop();
    throw err;
  }
  try {
    engine = await createGraphQLEngine(core);
  } catch (err) {
    await core.close();
    await database.drop();
    throw err;
  }
  const keys = new Map<string, ApiKeyRecord>();
  const keyFor = async (roles: string[], purposes: string[]): Promise<ApiKeyRecord> => {
    const id = `${[...roles].sort().join(',')}|${[...purposes].sort().join(',')}`;
    let k = keys.get(id);
    if (!k) {
      k = (await core.services.keys.create({ name: `testkit ${id}`, roles, purposes })).record;
      keys.set(id, k);
    }
    return k;
  };
  let ingestKey: ApiKeyRecord | undefined;

  return {
    core,
    database,
    async graphql(query, variables = {}, caller = {}) {
      const key = await keyFor(caller.roles ?? ['admin'], caller.purposes ?? []);
      const purpose = caller.purpose !== undefined ? caller.purpose : key.purposes.length === 1 ? key.purposes[0] : null;
      const contextValue = await engine.contextFor(key, purpose, randomUUID());
      const res = await engine.apollo.executeOperation({ query, variables }, { contextValue });
      if (res.body.kind !== 'single') throw new Error('incremental delivery is not supported by the testkit');
      return res.body.singleResult as TestkitResult;
    },
    async ingest(messages) {
      ingestKey ??= await keyFor(['ingest'], []);
      return core.services.ingestion.ingest(messages, { path: 'batch', sourceKeyId: ingestKey.id, sourceName: ingestKey.name });
    },
    async settle(timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        core.services.delivery.kick();
        const status = await core.services.delivery.status();
        if (status.every((s) => s.lag === 0)) return status;
        if (Date.now() > end) throw new Error(`plugin delivery did not catch up in ${timeoutMs} ms: ${JSON.stringify(status)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await engine.apollo.stop();
      await core.close();
      await database.drop();
    },
  };
}

import { z } from 'zod';
import type { RapportConfigInput } from './rapport-config';

/**
 * What a configuration key says about itself: read by the validation messages and by
 * `npm run docs:config`, which writes docs/configuration.md from this schema.
 */
export interface ConfigKeyMeta {
  /** One or two sentences: what the key does. */
  description: string;
  /** The environment variable that sets the key when the file does not. */
  env?: string;
  /** Never quote the value in a message (it may hold a password). */
  secret?: boolean;
  /** The default as the docs show it, where the value itself would mislead or lives elsewhere. */
  docDefault?: string;
  /** The type as the docs and messages show it, for values checked loosely (functions, plugins). */
  typeLabel?: string;
}

/** A key of the file: its schema, documented, and optional (every key has a default). */
function key<T extends z.ZodType>(schema: T, meta: ConfigKeyMeta) {
  return schema.meta({ ...meta }).optional();
}

const count = (min = 1) => z.int().min(min);
const ms = () => z.int().min(0).max(2_147_483_647);
const fn = (label: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { message: `must be ${label}` }).meta({ typeLabel: label });
const names = () => z.array(z.string().min(1));

const database = z.strictObject({
  url: key(z.string().regex(/^(postgres|postgresql|socket):/, 'a postgres:// or postgresql:// URL'), {
    description: 'A PostgreSQL (14 or later) connection string. When absent, an embedded PostgreSQL is started (or refused: see `--create`).',
    env: 'DATABASE_URL', secret: true, docDefault: 'unset (embedded PostgreSQL)', typeLabel: 'a postgres:// URL',
  }),
  embedded: key(
    z.strictObject({
      dataDir: key(z.string().min(1), {
        description: 'Data directory of the embedded PostgreSQL, relative to the working directory; its password and port are kept next to it in `<dataDir>.credentials.json` (mode 0600).',
        env: 'RAPPORT_DATA_DIR', docDefault: '`.rapport/pgdata`',
      }),
      port: key(z.int().min(1).max(65_535), {
        description: 'Port of the embedded PostgreSQL; stored in the credentials file when the data directory is created, and later starts use the stored port.',
        env: 'RAPPORT_PG_PORT',
      }),
    }),
    { description: 'The embedded PostgreSQL, used when `url` is absent.' },
  ),
  poolSize: key(count(), { description: 'Most connections in the pool, per process.', env: 'RAPPORT_PG_POOL' }),
  poolMin: key(count(0), {
    description: 'Connections the pool keeps open once it has opened them, per process (a value above `poolSize` keeps every connection). Connections above it are closed after `idleTimeoutMs` idle. Lower it to give connections back to PostgreSQL after a burst; each one opened again costs a backend start, authentication and warming its caches.',
    env: 'RAPPORT_PG_POOL_MIN', docDefault: '`poolSize` (a fixed pool)',
  }),
  idleTimeoutMs: key(ms(), {
    description: 'How long a connection above `poolMin` may sit idle before the pool closes it, in ms (0: never).',
    env: 'RAPPORT_PG_IDLE_TIMEOUT_MS',
  }),
  acquireTimeoutMs: key(ms(), {
    description: 'Longest wait for a connection (a free one from the pool, or a new one), in ms; past it the request answers 503 with `Retry-After`.',
    env: 'RAPPORT_PG_ACQUIRE_TIMEOUT_MS',
  }),
  statementTimeoutMs: key(ms(), {
    description: "PostgreSQL's `statement_timeout` for the server's connections, in ms (0: none); a longer statement is cancelled and the request answers 503. Migrations, `rapport resolve` and `rapport train` run without it.",
    env: 'RAPPORT_PG_STATEMENT_TIMEOUT_MS',
  }),
  lockTimeoutMs: key(ms(), {
    description: "PostgreSQL's `lock_timeout`, in ms (0: lock waits are bounded by `statementTimeoutMs` only).",
    env: 'RAPPORT_PG_LOCK_TIMEOUT_MS',
  }),
  preparedStatements: key(z.boolean(), {
    description: 'Keep the hottest reads (the profile bundle) as prepared statements on each connection: parsed and planned once per connection. Turn off behind a pooler in transaction mode that does not carry prepared statements across server connections (PgBouncer before 1.21, or later without `max_prepared_statements`); a server that loses one turns them off with a warning.',
    docDefault: '`true`',
  }),
  queryTimeoutMs: key(ms(), {
    description: 'Client-side bound on one query\'s answer, in ms (0: none): the backstop for a server that stopped answering. Keep it above `statementTimeoutMs`.',
    env: 'RAPPORT_PG_QUERY_TIMEOUT_MS',
  }),
});

const survivorshipRule = z
  .union([z.enum(['most_recent', 'first_seen']), z.strictObject({ sourcePriority: names() }), fn('a function')])
  .meta({ typeLabel: "`'most_recent'`, `'first_seen'`, `{ sourcePriority: [...] }` or a function" });

const levelSpec = z.looseObject({ type: z.enum(['exact', 'jaroWinkler', 'jaccard', 'editDistance', 'prefix', 'suffix', 'swapped', 'emailLocalPart', 'dateTransposed', 'yearWithin']) });
const probability = () => z.number().min(0).max(1);
const matchingConfig = z
  .strictObject({
    comparisons: z.array(
      z.strictObject({
        name: z.string().min(1),
        kind: z.enum(['name', 'email', 'phone', 'date', 'postcode', 'address', 'exact', 'numeric-string']),
        paths: z.array(z.string().min(1)).min(1),
        swapPaths: names().optional(),
        levels: z.array(levelSpec).optional(),
      }),
    ),
    blocking: z.array(
      z.strictObject({
        name: z.string().min(1),
        keys: z.array(z.union([z.string().min(1), z.looseObject({ path: z.string().min(1) })])).min(1),
        maxBlockSize: count().optional(),
      }),
    ),
    maxBlockSize: count(),
    thresholds: z.strictObject({ autoMerge: probability(), review: probability() }),
    training: z.record(z.string(), z.number()).optional(),
    autoMergeVetoes: z.array(names()).optional(),
  })
  .meta({ typeLabel: 'a matching configuration (docs/identity.md)' });

const identity = z.strictObject({
  limits: key(z.record(z.string(), count(0)), {
    description: 'Most values of one identity type a single profile may hold; merged with the default (`user_id: 1` stays unless you set it). A link that would break a limit is refused.',
  }),
  defaultLimit: key(count(0), { description: 'Limit for identity types not listed in `limits`.' }),
  priority: key(names(), { description: 'Identity types from most to least trusted: the highest-priority identity anchors a message whose identities belong to several profiles.' }),
  blockedValues: key(z.array(z.string()), { description: 'Values (compared after normalisation, case-insensitive) that never link anything; replaces the default list (`DEFAULT_BLOCKED_VALUES`).' }),
  defaultPhoneRegion: key(z.string().regex(/^[A-Za-z]{2}$/, 'an ISO 3166 alpha-2 code'), {
    description: 'Region for phone numbers written without a country code (ISO 3166 alpha-2, e.g. `US`).', docDefault: 'unset', typeLabel: 'a two-letter region code',
  }),
  survivorship: key(
    z.strictObject({
      default: key(survivorshipRule, { description: 'Which value of a trait survives when two meet (a merge or an update).' }),
      traits: key(z.record(z.string(), survivorshipRule), { description: 'Per-trait rules, overriding `default` (and rules plugins supply).' }),
    }),
    { description: 'Which trait value wins when two meet (docs/identity.md).' },
  ),
  matching: key(
    z.strictObject({
      incremental: key(z.boolean(), { description: 'Match new identify events against their block as they arrive (needs a trained model).' }),
      enforceLimits: key(z.enum(['explicit', 'all']), { description: 'Which limits a probabilistic merge respects: `explicit` (types listed in `limits`) or `all` (also `defaultLimit`).' }),
      config: key(matchingConfig, { description: 'Comparisons, blocking rules, thresholds and training options; replaces the default as a whole.', docDefault: '`DEFAULT_PERSON_MATCHING_CONFIG`' }),
    }),
    { description: 'Probabilistic (Fellegi-Sunter) matching.' },
  ),
});

const consent = z.strictObject({
  categoryMapping: key(z.record(z.string(), z.string().min(1)), { description: 'Segment consent category -> purpose, added to the default mapping, for categories whose lower snake case is not a purpose name.' }),
  piiTraits: key(names(), { description: 'Trait keys that are personal data: with no policy of their own they are denied to every reader but admin.' }),
  unclassifiedEventKeys: key(z.enum(['deny', 'allow']), { description: 'Event payload keys no policy classifies: `deny` hides them from every role below admin; `allow` leaves them open.' }),
  policies: key(
    z.array(
      z.strictObject({
        type: z.string().min(1),
        field: z.string().min(1),
        purposes: names().optional(),
        roles: names().optional(),
        mask: z.enum(['null', 'mask', 'hash']).optional(),
        pii: z.boolean().optional(),
      }),
    ),
    { description: 'Field policies applied (upserted) at every start; admins can change them later over GraphQL.', typeLabel: 'a list of `{ type, field, purposes?, roles?, mask?, pii? }`' },
  ),
});

const ingestion = z.strictObject({
  maxMessageBytes: key(count(), { description: 'Largest single message, in bytes of JSON (Segment: 32 KB).' }),
  maxBatchBytes: key(count(), { description: 'Largest request body (a batch), in bytes (Segment: 500 KB).' }),
  maxBatchMessages: key(count(), { description: 'Most messages in one batch.' }),
});

const api = z.strictObject({
  maxDepth: key(count(), { description: 'Deepest GraphQL selection allowed.' }),
  maxComplexity: key(count(), { description: 'Highest estimated cost of a GraphQL operation (each field 1, list fields times their `first`).' }),
  rateLimitPerMinute: key(count(), {
    description: 'Requests per minute per valid API key; requests without a valid key share one such budget per client address. Health endpoints are never limited.',
    env: 'RAPPORT_RATE_LIMIT',
  }),
  authFailuresPerMinute: key(count(), {
    description: 'Failed authentications per minute per client address; past it, 429 with `Retry-After` without a database lookup.',
    env: 'RAPPORT_AUTH_FAILURE_LIMIT',
  }),
  requestTimeoutMs: key(ms(), { description: 'Most time a client may take to send a whole request (headers and body), in ms; a slower one gets 408.', env: 'RAPPORT_REQUEST_TIMEOUT_MS' }),
  shutdownGraceMs: key(ms(), {
    description: 'On SIGTERM/SIGINT, how long requests in flight may take to finish before their connections are closed, in ms.',
    env: 'RAPPORT_SHUTDOWN_GRACE_MS',
  }),
  subscriptionsPerConnection: key(count(), { description: 'Most GraphQL subscriptions one WebSocket connection may hold at once; one more gets an error message.' }),
  subscriptionConnectionsPerKey: key(count(), { description: 'Most GraphQL WebSocket connections one API key may hold open at once, per server process; one more is closed with code 4429.' }),
  subscriptionInitTimeoutMs: key(count(), { description: 'Most time a GraphQL WebSocket client has to send `connection_init` with a valid key, in ms; then the socket is closed with code 4408.' }),
  subscriptionIdleTimeoutMs: key(ms(), { description: 'Most time a GraphQL WebSocket connection may stay open without a subscription, in ms (0: no limit); then it is closed with code 1000.' }),
  subscriptionBufferBytes: key(count(1024), { description: 'Most bytes waiting to be sent on one GraphQL WebSocket connection; a client that reads more slowly than its subscriptions produce is disconnected (code 1013).' }),
});

const delivery = z.strictObject({
  pollMs: key(count(), { description: "How often each process looks for changes other processes stored, in ms (its own commits wake it at once).", docDefault: '`1000`' }),
  leaseMs: key(count(), { description: "How long a process holds a consumer's cursor while it delivers a batch, in ms.", docDefault: '`30000`' }),
  baseBackoffMs: key(count(0), { description: 'First retry delay of a failing change, in ms, doubled per try up to `maxBackoffMs`.', docDefault: '`500`' }),
  maxBackoffMs: key(count(0), { description: 'Longest retry delay, in ms.', docDefault: '`60000`' }),
  stepBackShare: key(z.number().min(0.01).max(1), {
    description: "While this process's requests are in flight all the time (90% of the last half second) and a plugin is behind, the share of time its delivery runs (1: it never steps back); the plugins catch up after the burst.",
    docDefault: '`0.1`', typeLabel: 'a number from 0.01 to 1',
  }),
  stepBackMaxMs: key(ms(), { description: "Longest a plugin's delivery steps back while it stays behind, in ms; past it, it runs at full speed until it has caught up.", docDefault: '`30000`' }),
  transport: key(fn('a function (db) => DeliveryTransport'), { description: 'Where changes and consumer positions live (default: the PostgreSQL outbox); programmatic only.', docDefault: 'PostgreSQL outbox' }),
});

const jobs = z.strictObject({
  schema: key(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier'), { description: "PostgreSQL schema of pg-boss's tables.", docDefault: '`rapport_jobs`', typeLabel: 'a lower-case SQL identifier' }),
  pollIntervalMs: key(count(), { description: 'How often a server asks for due jobs of each queue it works, in ms.', docDefault: '`2000`' }),
  maintenanceIntervalSeconds: key(count(), { description: 'How often expired attempts are failed and finished jobs archived, in seconds (one server per interval).', docDefault: '`120`' }),
  cronMonitorIntervalSeconds: key(z.int().min(1).max(45), { description: 'How often cron schedules are evaluated, in seconds.', docDefault: '`30`' }),
  cronWorkerIntervalSeconds: key(z.int().min(1).max(45), { description: 'How often due cron runs are moved into their queues, in seconds.', docDefault: '`5`' }),
});

/** A plugin value: checked as far as a value made by `definePlugin` can be (its name and dependencies). */
const plugin = z
  .looseObject({ name: z.string(), dependsOn: names().optional() })
  .meta({ typeLabel: 'a plugin (the value a plugin factory returns, e.g. `loyaltyPlugin()`)' });

const logger = z.custom<object>(
  (v) => typeof v === 'object' && v !== null && ['info', 'warn', 'error', 'child'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  { message: 'must be a pino logger' },
);

/**
 * The configuration file (`rapport.config.js`), and what `createRapport` accepts: every key,
 * its rule, its environment variable and its description. Unknown keys are errors.
 */
export const configSchema = z.strictObject({
  port: key(z.int().min(0).max(65_535), { description: 'HTTP port of the server (0: any free port).', env: 'PORT', docDefault: '`4000`' }),
  host: key(z.string().min(1), { description: 'Address the server listens on; `0.0.0.0` accepts connections from other machines.', env: 'HOST', docDefault: '`127.0.0.1`' }),
  database: key(database, { description: 'Where the data lives.' }),
  identity: key(identity, { description: 'Identity stitching, merge protection, survivorship and probabilistic matching (docs/identity.md).' }),
  consent: key(consent, { description: 'Purposes, consent categories and field policies (docs/consent.md).' }),
  ingestion: key(ingestion, { description: 'Limits of the Segment-compatible HTTP API.' }),
  api: key(api, { description: 'Limits that protect the GraphQL endpoint and the server.' }),
  plugins: key(z.array(plugin), { description: 'Plugins, in any order: they run in `dependsOn` order. A config file without this key runs the bundled plugins.', docDefault: 'the bundled plugins (`recommendations`)' }),
  roles: key(z.record(z.string().min(1), names()), { description: 'Extra roles and the permissions they grant, added to the built-in `admin`, `app` and `ingest`.' }),
  delivery: key(delivery, { description: "How plugins' durable event delivery polls, leases, backs off and steps back for requests (docs/plugins.md)." }),
  jobs: key(jobs, { description: 'How background jobs and schedules poll (docs/plugins.md).' }),
  strictCompatibility: key(z.boolean(), { description: 'Refuse to start when a plugin declares another core version (default: warn and start).', docDefault: '`false`' }),
  logger: key(logger, { description: 'A pino logger to log with instead of the default (programmatic use).', typeLabel: 'a pino logger', docDefault: 'JSON lines on stdout' }),
});

// The schema and the RapportConfigInput type must name the same keys, section by section: a key
// added to one and not the other fails the build here (with the key in the error).
type Keys<T> = keyof NonNullable<T>;
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : { onlyInSchema: Exclude<A, B>; onlyInType: Exclude<B, A> };
type Schema = z.input<typeof configSchema>;
type Input = RapportConfigInput;
const sameKeys: [
  SameKeys<Keys<Schema>, Keys<Input>>,
  SameKeys<Keys<Schema['database']>, Keys<Input['database']>>,
  SameKeys<Keys<NonNullable<Schema['database']>['embedded']>, Keys<NonNullable<Input['database']>['embedded']>>,
  SameKeys<Keys<Schema['identity']>, Keys<Input['identity']>>,
  SameKeys<Keys<NonNullable<Schema['identity']>['survivorship']>, Keys<NonNullable<Input['identity']>['survivorship']>>,
  SameKeys<Keys<NonNullable<Schema['identity']>['matching']>, Keys<NonNullable<Input['identity']>['matching']>>,
  SameKeys<Keys<Schema['consent']>, Keys<Input['consent']>>,
  SameKeys<Keys<Schema['ingestion']>, Keys<Input['ingestion']>>,
  SameKeys<Keys<Schema['api']>, Keys<Input['api']>>,
  SameKeys<Keys<Schema['delivery']>, Keys<Input['delivery']>>,
  SameKeys<Keys<Schema['jobs']>, Keys<Input['jobs']>>,
] = [true, true, true, true, true, true, true, true, true, true, true];
void sameKeys;

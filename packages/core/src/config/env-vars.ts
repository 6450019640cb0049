import { z } from 'zod';

/** An environment variable that sets no key of the file: its rule (on the raw text) and its documentation. */
export interface EnvVarSpec {
  name: string;
  /** The rule, applied to the variable's text (an empty value counts as unset). */
  schema: z.ZodType<unknown, string>;
  /** The rule as messages and docs say it (`1` or `0`, an integer from 1 to 256 or `auto`). */
  rule: string;
  description: string;
  /** The default as the docs show it. */
  docDefault: string;
  /** Never quote the value in a message. */
  secret?: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const flag = () => z.enum(['0', '1']);

/**
 * Variables read outside the configuration file's keys (keys' own variables, such as
 * `RAPPORT_PG_POOL`, are declared on the key in `config.schema.ts`). Checked with the file, so
 * every problem shows at once.
 */
export const ENV_ONLY_VARS: EnvVarSpec[] = [
  {
    name: 'RAPPORT_CONFIG', schema: z.string(), rule: 'a file path', docDefault: '`rapport.config.js`',
    description: 'Path of the configuration file, relative to the working directory; an error if it does not exist. Without it, `rapport.config.js` is read when there is one.',
  },
  {
    name: 'RAPPORT_LOG_LEVEL', schema: z.enum(LOG_LEVELS), rule: `one of ${LOG_LEVELS.join(', ')}`,
    docDefault: '`info` (`warn` for the CLI commands other than `start`, whose logs go to stderr)',
    description: 'pino log level. At `info` the server logs one line per request (docs/operations.md#logs).',
  },
  {
    name: 'LOG_LEVEL', schema: z.enum(LOG_LEVELS), rule: `one of ${LOG_LEVELS.join(', ')}`,
    docDefault: 'unset',
    description: 'The older name of `RAPPORT_LOG_LEVEL`, still read when that is unset.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', schema: z.url(), rule: 'an http(s) URL', docDefault: 'unset (tracing off)',
    description: 'OTLP/HTTP (JSON) URL traces are sent to, as is (e.g. `http://collector:4318/v1/traces`). Tracing is off, and its SDK not loaded, unless this or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (docs/operations.md#traces).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT', schema: z.url(), rule: 'an http(s) URL', docDefault: 'unset (tracing off)',
    description: 'OTLP/HTTP base URL; traces go to `<url>/v1/traces`. Turns tracing on.',
  },
  {
    name: 'OTEL_SERVICE_NAME', schema: z.string().min(1), rule: 'any text', docDefault: '`rapport`',
    description: "The `service.name` of the server's traces.",
  },
  {
    name: 'RAPPORT_WORKERS', schema: z.union([z.literal('auto'), z.string().regex(/^\d+$/).transform(Number).pipe(z.int().min(1).max(256))]),
    rule: 'an integer from 1 to 256, or `auto`', docDefault: '`1`',
    description: 'Server processes sharing the port (`rapport start --workers <n|auto>` wins over it); see docs/scaling.md.',
  },
  {
    name: 'RAPPORT_TRUST_PROXY', schema: flag(), rule: '`1` or `0`', docDefault: '`0`',
    description: '`1` to take the client address and protocol from `X-Forwarded-For` / `X-Forwarded-Proto` (behind a reverse proxy; see docs/operations.md).',
  },
  {
    name: 'NODE_ENV', schema: z.string(), rule: 'any text', docDefault: 'unset (`production` under `npm start`)',
    description: '`development` adds stack traces to GraphQL errors.',
  },
  {
    name: 'TEST_DATABASE_URL', schema: z.string().regex(/^(postgres|postgresql):/), rule: 'a postgres:// URL', docDefault: 'unset', secret: true,
    description: 'Tests only: a PostgreSQL whose user may create databases; without it the tests start their own embedded PostgreSQL.',
  },
];

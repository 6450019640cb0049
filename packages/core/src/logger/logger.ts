import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactingErrorSerializer } from './error.serializer';

export type { Logger } from 'pino';

/**
 * The log level the environment asks for: `RAPPORT_LOG_LEVEL`, else `LOG_LEVEL` (its older name,
 * still read), else `fallback`.
 */
export function logLevelFromEnv(fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.RAPPORT_LOG_LEVEL || env.LOG_LEVEL || fallback;
}

/**
 * Creates the structured (JSON) logger used across Rapport.
 * Level comes from `RAPPORT_LOG_LEVEL` (or its older name `LOG_LEVEL`; default `info`, `silent` in
 * tests unless set); output goes to
 * `destination` (default stdout). Errors logged as `err` or `error` lose the properties that quote
 * data (PostgreSQL's `detail`, statement `parameters`): see {@link redactingErrorSerializer}.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const level = logLevelFromEnv(process.env.VITEST ? 'silent' : 'info');
  return pino({
    level,
    base: { service: 'rapport' },
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'writeKey', '*.writeKey'], remove: true },
    ...options,
    serializers: { err: redactingErrorSerializer, error: redactingErrorSerializer, ...options.serializers },
  }, destination ?? pino.destination(1));
}

import { RapportError } from '../errors/rapport-error';

/** Seconds a client is asked to wait (`Retry-After`) before retrying a request the database could not serve. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * The database could not serve the request: it is unreachable, restarting, paused, out of
 * connections, or a statement ran past its timeout. Nothing of the request was stored (its
 * transaction rolled back, or its outcome is unknown and a retry is deduplicated by messageId):
 * HTTP 503 with `Retry-After`, and the client retries.
 */
export class DatabaseUnavailableError extends RapportError {
  /** Seconds to wait before retrying. */
  readonly retryAfterSeconds = RETRY_AFTER_SECONDS;
  constructor(
    /** Why, in words safe to show a client (no SQL, no values). */
    reason: string,
    /** The driver's error, for the logs. */
    override readonly cause?: unknown,
  ) {
    super('DATABASE_UNAVAILABLE', `the database is unavailable (${reason}); nothing was stored: retry in ${RETRY_AFTER_SECONDS} s`, undefined, 'database');
    this.name = 'DatabaseUnavailableError';
  }
}

// SQLSTATEs of a connection that is gone or a server that cannot take work now.
const CONNECTION_STATES = new Set([
  '57P01', // admin_shutdown: terminated (pg_terminate_backend, fast shutdown)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '57P05', // idle_session_timeout
  '53300', // too_many_connections
]);
// SQLSTATEs of a statement stopped by a timeout: the server is alive but the work did not finish.
const TIMEOUT_STATES = new Set([
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
]);
// node-postgres and socket errors that mean the connection failed or died.
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Client was closed',
  'Cannot use a pool after calling end',
  'the database is not connected',
];
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * How a database error bears on availability: `connection` (the server is unreachable or the
 * connection died: the availability gate closes until a probe succeeds), `timeout` (a statement,
 * lock wait or acquire timed out: retry later, the server is alive), or null (any other error: a
 * bug or a data error, not retried).
 */
export function unavailability(err: unknown): 'connection' | 'timeout' | null {
  if (err instanceof DatabaseUnavailableError) return 'timeout';
  if (!err || typeof err !== 'object') return null;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (CONNECTION_STATES.has(code) || code.startsWith('08') || SOCKET_CODES.has(code)) return 'connection';
  if (TIMEOUT_STATES.has(code)) return 'timeout';
  const message = typeof e.message === 'string' ? e.message : '';
  if (message === 'timeout exceeded when trying to connect') return 'timeout'; // pool full: the server may be fine
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return 'connection';
  // AggregateError from a connect to several addresses (localhost: ::1 and 127.0.0.1).
  if (Array.isArray(e.errors) && e.errors.some((x) => unavailability(x) === 'connection')) return 'connection';
  return null;
}

/** A short reason for {@link DatabaseUnavailableError}'s message: what happened, never SQL or values. */
export function unavailableReason(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === '57014') return 'a statement timed out';
  if (code === '55P03') return 'a lock wait timed out';
  if (code === '53300') return 'out of connections';
  if (code === '57P03') return 'starting up or shutting down';
  if (code === '57P01' || code === '57P02') return 'the connection was terminated';
  const message = typeof e.message === 'string' ? e.message : '';
  if (message.includes('Query read timeout')) return 'no answer in time';
  if (message.includes('timeout exceeded when trying to connect') || message.includes('connection timeout')) return 'no connection in time';
  if (message.includes('Connection terminated')) return 'the connection was lost';
  return 'unreachable';
}

import { RapportError } from '../errors/rapport-error';

/** The SQLSTATE of a PostgreSQL error (`22P05`), or null for anything else (Rapport's own errors included). */
export function sqlStateOf(err: unknown): string | null {
  if (err instanceof RapportError) return null;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/**
 * True when PostgreSQL refused a value the message carries (class 22 data exception, class 54
 * program limit exceeded, such as an index row too large): the same message fails the same way on
 * every retry, so it is rejected like an invalid message (400 in a batch's `errors`).
 */
export function isDataRefusal(err: unknown): boolean {
  const state = sqlStateOf(err);
  return state !== null && (state.startsWith('22') || state.startsWith('54'));
}

/**
 * True when an error may be caused by one message of a batch, so that storing the messages apart
 * isolates it: a data refusal, a constraint or cardinality violation (classes 21, 23), an error
 * raised by a trigger or function (P0) or an internal error (XX), and JavaScript's own TypeError
 * and RangeError. Errors of the database's availability (connection, timeouts, shutdown, lock
 * waits, serialisation failures after their retries) are not: they fail the whole request, which
 * the client retries.
 */
export function isPerMessageFailure(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  const state = sqlStateOf(err);
  return state !== null && ['21', '22', '23', '54', 'P0', 'XX'].includes(state.slice(0, 2));
}

import { RapportError, type Logger } from '@rapport/core/internal';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { toRapportError } from '../http/error-reply';
import { formatError } from './format-error';

/**
 * The code Apollo gives an error of each stage over HTTP, for the same stage over WebSocket: a
 * document that does not parse, one that fails validation, variables that do not coerce. Errors
 * raised while executing keep their own code, or are INTERNAL_SERVER_ERROR.
 */
export type ErrorStage = 'GRAPHQL_PARSE_FAILED' | 'GRAPHQL_VALIDATION_FAILED' | 'BAD_USER_INPUT' | 'BAD_REQUEST' | 'INTERNAL_SERVER_ERROR';

/**
 * An error of the WebSocket transport as the client gets it: the shape and codes of the HTTP
 * endpoint (Apollo's normalisation, then the server's `formatError`): a RapportError with its
 * code, field and rule, an unexpected error as `internal error` (logged here, without data),
 * `extensions.http` left out.
 */
export function clientError(error: GraphQLError, stage: ErrorStage, logger: Logger): GraphQLFormattedError {
  const json = error.toJSON();
  const { http: _http, ...extensions } = (json.extensions ?? {}) as Record<string, unknown>;
  const original = error.originalError;
  // A RapportError, or a fault outside graphql-js (the database, say) that maps to one.
  const known = original instanceof RapportError ? original : original && !(original instanceof GraphQLError) ? toRapportError(original) : null;
  if (known) return formatError({ ...json, extensions }, known);
  const code = extensions.code ?? (original && !(original instanceof GraphQLError) ? 'INTERNAL_SERVER_ERROR' : stage);
  if (code === 'INTERNAL_SERVER_ERROR' && original) logger.warn({ err: original.message }, 'graphql subscription: internal error');
  return formatError({ ...json, extensions: { ...extensions, code } }, error);
}

/** Wraps any thrown value as a GraphQLError whose original error is kept (for {@link clientError}). */
export function asGraphQLError(err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  return new GraphQLError(e.message, { originalError: e });
}

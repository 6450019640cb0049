import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { RapportError } from '@rapport/core/internal';

/** graphql-js's message when a document is over `parseOptions.maxLexicalTokens` ("more that" in 16.15). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/;
/** The parser recurses per nesting level; thousands of levels (within the token limit) can exhaust the stack. */
const TOO_DEEP = 'Maximum call stack size exceeded';

/**
 * Errors a resolver throws on purpose carry their code, field and rule to the client; anything
 * else is reported as INTERNAL_SERVER_ERROR without its message or stack (logged server-side).
 * An argument PostgreSQL refuses (SQLSTATE class 22, or 54001) is the caller's: BAD_USER_INPUT.
 * A document over the parser's token limit is answered with a message naming the limit
 * (`extensions.rule` `maxTokens`, `limit`), one nested too deeply to parse with rule `maxDepth`.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof RapportError) {
    return {
      ...formatted,
      message: original.message,
      extensions: { code: original.code, ...(original.field ? { field: original.field } : {}), ...(original.rule ? { rule: original.rule } : {}) },
    };
  }
  const code = formatted.extensions?.code;
  const sqlstate = (original as { code?: unknown } | null)?.code;
  if (typeof sqlstate === 'string' && (sqlstate.startsWith('22') || sqlstate === '54001')) {
    // A data exception (bad uuid, NUL, number out of range, ...) or a filter too complex to plan:
    // the caller's argument, not a fault of the server. Never the database's own message (it may quote values).
    const field = formatted.path?.[0] ?? 'the operation';
    return {
      message: `an argument of ${String(field)} holds a value the database cannot store or compare (SQLSTATE ${sqlstate}): check its format`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'BAD_USER_INPUT', rule: 'storable', sqlstate },
    };
  }
  const tokens = code === 'GRAPHQL_PARSE_FAILED' ? TOKEN_LIMIT.exec(formatted.message) : null;
  if (tokens) {
    const limit = Number(tokens[1]);
    return {
      message: `the document has more than ${limit} tokens, the limit: send a shorter query`,
      locations: formatted.locations,
      extensions: { code, rule: 'maxTokens', limit },
    };
  }
  if (code === 'GRAPHQL_PARSE_FAILED' && formatted.message === TOO_DEEP) {
    return { message: 'the document nests too deeply to parse: ask for fewer nested levels', extensions: { code, rule: 'maxDepth' } };
  }
  if (code === 'INTERNAL_SERVER_ERROR' && process.env.NODE_ENV !== 'development') {
    return { message: 'internal error', locations: formatted.locations, path: formatted.path, extensions: { code } };
  }
  return formatted;
}

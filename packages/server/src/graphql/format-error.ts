import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { RapportError } from '@rapport/core';

/** graphql-js's message when a document is over `parseOptions.maxLexicalTokens` ("more that" in 16.15). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/;
/** The parser recurses per nesting level; thousands of levels (within the token limit) can exhaust the stack. */
const TOO_DEEP = 'Maximum call stack size exceeded';

/**
 * Errors a resolver throws on purpose carry their code, field and rule to the client; anything
 * else is reported as INTERNAL_SERVER_ERROR without its message or stack (logged server-side).
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

import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { RapportError } from '@rapport/core';

/**
 * Errors a resolver throws on purpose carry their code, field and rule to the client; anything
 * else is reported as INTERNAL_SERVER_ERROR without its message or stack (logged server-side).
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
  if (code === 'INTERNAL_SERVER_ERROR' && process.env.NODE_ENV !== 'development') {
    return { message: 'internal error', locations: formatted.locations, path: formatted.path, extensions: { code } };
  }
  return formatted;
}

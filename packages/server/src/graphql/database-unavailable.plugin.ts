import type { ApolloServerPlugin } from '@apollo/server';
import { RETRY_AFTER_SECONDS } from '@rapport/core/internal';

/**
 * When any error of a GraphQL response is `DATABASE_UNAVAILABLE` (the database was unreachable or
 * timed out while resolving), answers HTTP 503 with `Retry-After` instead of 200: the data is
 * missing for a reason that passes, and clients and proxies retry on 503.
 */
export function databaseUnavailablePlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors ?? [];
          if (!errors.some((e) => e.extensions?.code === 'DATABASE_UNAVAILABLE')) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}

import type { ApolloServerPlugin } from '@apollo/server';
import type { RapportContext } from '@rapport/schema/internal';

/**
 * Puts the warnings resolvers added with `ctx.warn(...)` into the response's
 * `extensions.warnings` (absent when there are none).
 */
export function warningsPlugin(): ApolloServerPlugin<RapportContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single' || !contextValue.warnings?.length) return;
          const r = response.body.singleResult;
          r.extensions = { ...r.extensions, warnings: [...contextValue.warnings] };
        },
      };
    },
  };
}

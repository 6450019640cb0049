import type { ApolloServerPlugin } from '@apollo/server';
import { Permission } from '@rapport/core/internal';
import type { RapportContext } from '@rapport/schema/internal';
import { BREAK, GraphQLError, visit, type DocumentNode } from 'graphql';

/** The permission introspection needs: reading keys (app, admin) hold it, ingest keys do not. */
export const INTROSPECTION_PERMISSION = Permission.ProfilesRead;

/** True when the document asks for `__schema` or `__type` anywhere (`__typename` is not introspection here). */
export function asksForIntrospection(document: DocumentNode): boolean {
  let asks = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        asks = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return asks;
}

/**
 * Refuses `__schema` and `__type` to keys whose roles may not read (`profiles:read`): ingest
 * keys sit in browsers and apps, where anyone can copy them, and need no map of the API to send
 * events. The answer is HTTP 403, `FORBIDDEN`, naming the permission and the key's roles.
 * `__typename` stays open to every key (clients add it to every selection).
 */
export function introspectionAccessPlugin(): ApolloServerPlugin<RapportContext> {
  const asks = new WeakMap<DocumentNode, boolean>(); // Apollo reuses the parsed document per query text
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue: ctx }) {
          let introspects = asks.get(document);
          if (introspects === undefined) asks.set(document, (introspects = asksForIntrospection(document)));
          if (!introspects || ctx.can(INTROSPECTION_PERMISSION)) return;
          throw new GraphQLError(
            `introspection (__schema, __type) needs the "${INTROSPECTION_PERMISSION}" permission, which roles [${ctx.caller.roles.join(', ')}] do not grant`,
            { extensions: { code: 'FORBIDDEN', rule: 'introspection', permission: INTROSPECTION_PERMISSION, http: { status: 403 } } },
          );
        },
      };
    },
  };
}

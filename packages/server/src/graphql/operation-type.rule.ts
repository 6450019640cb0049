import { GraphQLError, type ValidationRule } from 'graphql';

/** Where an operation arrived: `POST`/`GET /graphql`, or a `graphql-transport-ws` WebSocket on `/graphql`. */
export type GraphQLTransport = 'http' | 'websocket';

/**
 * A validation rule that refuses an operation the transport does not serve: one whose root type
 * the schema lacks (graphql-js would only find out while executing, and answer HTTP 200 with an
 * INTERNAL_SERVER_ERROR), a subscription over HTTP, and a query or mutation over WebSocket (they
 * go over HTTP, where the rate limits, the request log and tracing apply). The error names the
 * operation type (`extensions.rule` `operationType`); over HTTP it is a 400.
 */
export function operationTypeRuleFor(transport: GraphQLTransport): ValidationRule {
  return (context) => ({
    OperationDefinition(node) {
      const op = node.operation;
      const has = Boolean(context.getSchema().getRootType(op));
      let message: string | null = null;
      if (!has) message = `this API has no ${op} operations: send a ${transport === 'http' ? 'query or a mutation' : 'subscription'}`;
      else if (transport === 'http' && op === 'subscription') message = 'subscriptions are served over WebSocket: connect to /graphql with the graphql-transport-ws protocol (graphql-ws)';
      else if (transport === 'websocket' && op !== 'subscription') message = `a ${op} is served over HTTP: POST it to /graphql; this WebSocket serves subscriptions`;
      if (!message) return;
      context.reportError(new GraphQLError(message, { nodes: [node], extensions: { rule: 'operationType', operation: op } }));
    },
  });
}

/** The rule of the HTTP endpoint (see {@link operationTypeRuleFor}). */
export const operationTypeRule: ValidationRule = operationTypeRuleFor('http');

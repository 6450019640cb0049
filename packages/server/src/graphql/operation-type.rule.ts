import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * A validation rule that refuses an operation whose root type the schema lacks (Rapport has no
 * subscriptions). graphql-js would only find out while executing, and answer HTTP 200 with an
 * INTERNAL_SERVER_ERROR; this answers HTTP 400 naming the operation type.
 */
export const operationTypeRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema().getRootType(node.operation)) return;
    context.reportError(
      new GraphQLError(`this API has no ${node.operation} operations: send a query or a mutation`, {
        nodes: [node], extensions: { rule: 'operationType', operation: node.operation },
      }),
    );
  },
});

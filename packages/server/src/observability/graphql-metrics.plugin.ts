import type { ApolloServerPlugin } from '@apollo/server';
import { boundedLabel, LATENCY_BUCKETS, type MetricsRegistry } from '@rapport/core/internal';

/** Distinct operation names a server labels before it counts new ones as `other`. */
export const MAX_OPERATION_NAMES = 100;

/**
 * Times each GraphQL operation from the start of Apollo's handling (parse, validation, execution)
 * to its response, in `rapport_graphql_operation_duration_seconds{operation, type, outcome}`:
 * `operation` is the operation's name, `anonymous` when it has none, `other` past the first
 * {@link MAX_OPERATION_NAMES} distinct names (names come from clients: the series stay bounded);
 * `type` is query or mutation (`none` when the document did not parse or validate); `outcome` is
 * `error` when the response carries errors (refused fields included), else `ok`.
 */
export function graphqlMetricsPlugin(metrics: MetricsRegistry): ApolloServerPlugin {
  const duration = metrics.histogram(
    'rapport_graphql_operation_duration_seconds',
    'GraphQL operations by name (anonymous for unnamed, other past 100 names), type and outcome, with the time Apollo took, in seconds.',
    ['operation', 'type', 'outcome'],
    LATENCY_BUCKETS,
  );
  const nameOf = boundedLabel(MAX_OPERATION_NAMES);
  return {
    async requestDidStart() {
      const t0 = performance.now();
      return {
        async willSendResponse({ operation, response }) {
          // The parsed operation's name (a GraphQL Name), never the request's free-text operationName.
          const name = operation?.name?.value;
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          duration.observe(
            {
              operation: name ? (name.length <= 100 ? nameOf(name) : 'other') : 'anonymous',
              type: operation?.operation ?? 'none',
              outcome: errors?.length ? 'error' : 'ok',
            },
            (performance.now() - t0) / 1000,
          );
        },
      };
    },
  };
}

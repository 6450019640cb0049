import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, getVariableValues, visit, type ArgumentNode, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/** Each field costs 1; a list field with a `first` argument costs `first` times its children. */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  const first = typeof args.first === 'number' ? Math.max(args.first, 1) : null;
  return first ? 1 + first * Math.max(childComplexity, 1) : 1 + childComplexity;
};

/** The field arguments `connectionEstimator` reads: a variable in one of them changes the price. */
const PRICED_ARGUMENTS = new Set(['first']);

/**
 * The variables a document's price depends on: those in a priced argument (`first: $n`) and
 * those in a directive (`@include(if: $b)`, `@skip(if: $b)` prune whole branches).
 */
export function pricedVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const priced = (node: ArgumentNode) => PRICED_ARGUMENTS.has(node.name.value);
  let inside = 0; // directives and priced arguments the walk is in
  visit(document, {
    Directive: { enter: () => { inside++; }, leave: () => { inside--; } },
    Argument: { enter: (node) => { if (priced(node)) inside++; }, leave: (node) => { if (priced(node)) inside--; } },
    Variable: (node) => { if (inside > 0) names.add(node.name.value); },
  });
  return [...names].sort();
}

/** Prices of one parsed document, per operation and values of its priced variables. */
interface DocumentPrices {
  variables: string[];
  prices: Map<string, number>;
}

/** Most prices remembered per document (one per operation and page size, in practice). */
const PRICES_PER_DOCUMENT = 100;

/** Prices an operation with its variables; the error to answer when it is over the limit, else null. */
export type ComplexityCheck = (schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>) => GraphQLError | null;

/**
 * The complexity check of {@link complexityLimitPlugin}, for any transport (HTTP and WebSocket
 * share it). Variables that do not coerce are left to the caller (null).
 *
 * Pricing (`getComplexity`) takes about 70 µs for the typical read, some 5% of its server time,
 * so a price is remembered per parsed document (Apollo hands back the same document for the
 * same query text) and per operation name and values of the variables the price depends on
 * (`pricedVariables`, defaults applied): a read repeated with other ids is priced once.
 */
export function complexityCheck(maxComplexity: number): ComplexityCheck {
  const byDocument = new WeakMap<DocumentNode, DocumentPrices>();
  return (schema, document, operation, variables) => {
    const { coerced, errors } = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (errors) return null;
    let entry = byDocument.get(document);
    if (!entry) byDocument.set(document, (entry = { variables: pricedVariables(document), prices: new Map() }));
    const key = priceKey(operation.name?.value ?? '', entry.variables, coerced);
    let complexity = key === null ? undefined : entry.prices.get(key);
    if (complexity === undefined) {
      complexity = getComplexity({
        schema, query: document, variables, operationName: operation.name?.value, estimators: [connectionEstimator],
      });
      if (key !== null) {
        if (entry.prices.size >= PRICES_PER_DOCUMENT) entry.prices.clear();
        entry.prices.set(key, complexity);
      }
    }
    if (complexity <= maxComplexity) return null;
    return new GraphQLError(
      `query complexity ${complexity} is over the limit of ${maxComplexity}: ask for smaller pages (first) or fewer fields`,
      { extensions: { code: 'QUERY_TOO_COMPLEX', rule: 'maxComplexity', limit: maxComplexity, complexity, http: { status: 400 } } },
    );
  };
}

/**
 * Refuses operations whose estimated cost is over `maxComplexity`, with HTTP 400. Runs after
 * variables are known, so `first: $n` and `@include(if: $b)` are priced with their real values
 * ({@link complexityCheck}).
 *
 * Variables that do not coerce to their declared types are left to Apollo, which answers
 * `BAD_USER_INPUT` with HTTP 400 naming the variable; so is an operation it cannot find.
 */
export function complexityLimitPlugin(check: ComplexityCheck): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation, schema }) {
          if (!operation) return;
          const error = check(schema, document, operation, request.variables ?? {});
          if (error) throw error;
        },
      };
    },
  };
}

/** The operation and the coerced values of the priced variables (absent and null differ); null when not serialisable. */
function priceKey(operationName: string, variables: string[], coerced: Record<string, unknown>): string | null {
  try {
    return JSON.stringify([operationName, ...variables.map((name) => (Object.hasOwn(coerced, name) ? [coerced[name]] : []))]);
  } catch {
    return null;
  }
}

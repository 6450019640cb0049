import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValidationContext,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/**
 * A validation rule that refuses operations nested deeper than `maxDepth` (fragments followed).
 * The error names the operation and the limit; Apollo answers it with HTTP 400.
 */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
      if (!set) return 0;
      let max = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (s.name.value.startsWith('__')) continue;
          max = Math.max(max, s.selectionSet ? 1 + depthOf(s.selectionSet, seen) : 1);
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(s.selectionSet, seen));
        } else {
          const f = fragments.get(s.name.value);
          if (f && !seen.has(f.name.value)) max = Math.max(max, depthOf(f.selectionSet, new Set([...seen, f.name.value])));
        }
      }
      return max;
    };
    return {
      OperationDefinition(node: OperationDefinitionNode) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`query depth ${depth} is over the limit of ${maxDepth}: ask for fewer nested levels`, {
              nodes: [node], extensions: { rule: 'maxDepth', limit: maxDepth, depth },
            }),
          );
        }
      },
    };
  };
}

/** Each field costs 1; a list field with a `first` argument costs `first` times its children. */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  const first = typeof args.first === 'number' ? Math.max(args.first, 1) : null;
  return first ? 1 + first * Math.max(childComplexity, 1) : 1 + childComplexity;
};

/**
 * Refuses operations whose estimated cost is over `maxComplexity`, with HTTP 400. Runs after
 * variables are known, so `first: $n` is priced with its real value.
 */
export function complexityLimitPlugin(maxComplexity: number): ApolloServerPlugin {
  // The price depends on the operation and its numeric variables only (page sizes), so it is
  // computed once per such pair: most traffic repeats a few operations with other ids.
  const cache = new Map<string, number>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema }) {
          const variables = request.variables ?? {};
          const numeric = Object.entries(variables).filter(([, v]) => typeof v === 'number');
          const key = request.query ? `${request.operationName ?? ''}\u0000${request.query}\u0000${JSON.stringify(numeric)}` : null;
          let complexity = key ? cache.get(key) : undefined;
          if (complexity === undefined) {
            complexity = getComplexity({
              schema, query: document, variables, operationName: request.operationName, estimators: [connectionEstimator],
            });
            if (key) {
              if (cache.size >= 1000) cache.clear();
              cache.set(key, complexity);
            }
          }
          if (complexity > maxComplexity) {
            throw new GraphQLError(
              `query complexity ${complexity} is over the limit of ${maxComplexity}: ask for smaller pages (first) or fewer fields`,
              { extensions: { code: 'QUERY_TOO_COMPLEX', rule: 'maxComplexity', limit: maxComplexity, complexity, http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}

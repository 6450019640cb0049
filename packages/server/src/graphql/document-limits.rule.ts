import { GraphQLError, Kind, type DocumentNode, type ValidationRule } from 'graphql';
import { measureOperations, type OperationShape } from './operation-shape';

/** Limits on the shape of a GraphQL document, each operation measured with its fragments expanded. */
export interface DocumentLimits {
  /** Deepest field nesting (`api.maxDepth`). */
  maxDepth: number;
  /** Fields, inline fragments and fragment spreads, a fragment counted at each spread. */
  maxSelections: number;
  /** Aliased fields. */
  maxAliases: number;
  /** Directives (`@include`, `@skip`, ...). */
  maxDirectives: number;
  /** Times one response name may be selected in one selection set (inline fragments merged). */
  maxFieldRepeats: number;
}

/**
 * Most lexical tokens the parser reads before giving up (`parseOptions.maxLexicalTokens`, which
 * graphql-js 16.15 also calls `maxTokens`): bounds parsing and validation whatever the body size.
 * The introspection query GraphiQL sends has about 200 tokens; a typical read about 40.
 */
export const MAX_TOKENS = 10_000;

/**
 * The shape limits besides depth. The introspection query has 240 selections, no alias and no
 * directive; these leave room for large legitimate reads while keeping validation cheap (more
 * repeats of one field in a selection set cost graphql-js time quadratic in the repeats).
 */
export const DEFAULT_DOCUMENT_LIMITS: Omit<DocumentLimits, 'maxDepth'> = {
  maxSelections: 1_000,
  maxAliases: 100,
  maxDirectives: 50,
  maxFieldRepeats: 20,
};

/** A limit the document is over: the rule, its limit, what was measured, and the message. */
export interface LimitViolation {
  rule: keyof DocumentLimits;
  limit: number;
  extensions: Record<string, unknown>;
  message: string;
}

/** Writes a count; a fragment bomb's can be beyond the safe integers. */
const count = (n: number) => (Number.isSafeInteger(n) ? String(n) : `more than ${Number.MAX_SAFE_INTEGER}`);
/** The same, as a JSON number (clamped). */
const clamp = (n: number) => Math.min(n, Number.MAX_SAFE_INTEGER);

/** The first limit the operation's shape is over, or null. */
export function shapeViolation(shape: OperationShape, limits: DocumentLimits): LimitViolation | null {
  if (shape.depth > limits.maxDepth) {
    return {
      rule: 'maxDepth', limit: limits.maxDepth, extensions: { depth: shape.depth },
      message: `query depth ${shape.depth} is over the limit of ${limits.maxDepth}: ask for fewer nested levels`,
    };
  }
  if (shape.selections > limits.maxSelections) {
    return {
      rule: 'maxSelections', limit: limits.maxSelections, extensions: { selections: clamp(shape.selections) },
      message: `query has ${count(shape.selections)} selections (fragments counted at each spread), over the limit of ${limits.maxSelections}: ask for fewer fields`,
    };
  }
  if (shape.aliases > limits.maxAliases) {
    return {
      rule: 'maxAliases', limit: limits.maxAliases, extensions: { aliases: clamp(shape.aliases) },
      message: `query has ${count(shape.aliases)} aliases, over the limit of ${limits.maxAliases}: ask for fewer aliased fields`,
    };
  }
  if (shape.directives > limits.maxDirectives) {
    return {
      rule: 'maxDirectives', limit: limits.maxDirectives, extensions: { directives: clamp(shape.directives) },
      message: `query has ${count(shape.directives)} directives, over the limit of ${limits.maxDirectives}: use fewer @include and @skip`,
    };
  }
  if (shape.repeats.count > limits.maxFieldRepeats) {
    const { name, count: times } = shape.repeats;
    return {
      rule: 'maxFieldRepeats', limit: limits.maxFieldRepeats, extensions: { field: name, repeats: times },
      message: `field "${name}" is selected ${times} times in one selection set, over the limit of ${limits.maxFieldRepeats}: select it once`,
    };
  }
  return null;
}

/** An empty document: what the other validation rules are left to visit once a limit is hit. */
const NOTHING_LEFT: DocumentNode = Object.freeze({ kind: Kind.DOCUMENT, definitions: Object.freeze([]) });

/**
 * A validation rule that refuses documents over the depth, selection, alias, directive or
 * repeat limits, in time linear in the document (each fragment measured once). It runs when the
 * document is entered, before any other rule looks at a selection set; over a limit, it reports
 * the error and hands the visit an empty document in place of this one (a visitor's way to
 * replace a node), so the remaining rules, overlapping-fields checks in particular, do not spend
 * hundreds of milliseconds on a document already refused. Apollo answers with HTTP 400,
 * `GRAPHQL_VALIDATION_FAILED`; the message names the rule and the limit, and so do
 * `extensions.rule` and `extensions.limit`.
 */
export function documentLimitsRule(limits: DocumentLimits): ValidationRule {
  return (context) => ({
    Document(document) {
      for (const [operation, shape] of measureOperations(document)) {
        const v = shapeViolation(shape, limits);
        if (!v) continue;
        context.reportError(new GraphQLError(v.message, { nodes: [operation], extensions: { rule: v.rule, limit: v.limit, ...v.extensions } }));
        return NOTHING_LEFT;
      }
      return undefined;
    },
  });
}

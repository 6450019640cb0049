import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

/** The shape of one operation, fragments expanded (a fragment spread twice counts twice). */
export interface OperationShape {
  /** Deepest field nesting; introspection fields (`__schema`, `__type`, `__typename`) do not count. */
  depth: number;
  /** Fields, inline fragments and fragment spreads. */
  selections: number;
  /** Fields asked for under an alias. */
  aliases: number;
  /** Directives (`@include`, `@skip`, ...) on the operation and anywhere in its selections. */
  directives: number;
  /**
   * The most times one response name (alias or field name) is selected in one selection set,
   * inline fragments merged into the set they sit in, and that name.
   */
  repeats: { count: number; name: string };
}

const empty = (): OperationShape => ({ depth: 0, selections: 0, aliases: 0, directives: 0, repeats: { count: 0, name: '' } });

/**
 * Measures each operation of a document in time linear in the document's size: each fragment is
 * measured once and its shape reused wherever it is spread, so 25 fragments each spreading the
 * next twice cost 25 measures, not 2^25. A fragment spread inside itself (a cycle, which
 * validation refuses) counts as empty where it recurs; an unknown fragment counts as empty.
 */
export function measureOperations(document: DocumentNode): Map<OperationDefinitionNode, OperationShape> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const measured = new Map<string, OperationShape>();
  const measuring = new Set<string>();

  const fragmentShape = (name: string): OperationShape => {
    const known = measured.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || measuring.has(name)) return empty();
    measuring.add(name);
    const shape = setShape(fragment.selectionSet, new Map());
    measuring.delete(name);
    measured.set(name, shape);
    return shape;
  };

  /** `names` counts response names of the enclosing selection set (shared with its inline fragments). */
  const setShape = (set: SelectionSetNode | undefined, names: Map<string, number>): OperationShape => {
    const shape = empty();
    if (!set) return shape;
    for (const s of set.selections) {
      shape.selections += 1;
      shape.directives += s.directives?.length ?? 0;
      let inner: OperationShape;
      let depth: number;
      if (s.kind === Kind.FIELD) {
        if (s.alias) shape.aliases += 1;
        const name = (s.alias ?? s.name).value;
        const count = (names.get(name) ?? 0) + 1;
        names.set(name, count);
        if (count > shape.repeats.count) shape.repeats = { count, name };
        inner = setShape(s.selectionSet, new Map());
        depth = s.name.value.startsWith('__') ? 0 : 1 + inner.depth;
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        inner = setShape(s.selectionSet, names);
        depth = inner.depth;
      } else {
        inner = fragmentShape(s.name.value);
        depth = inner.depth;
      }
      shape.depth = Math.max(shape.depth, depth);
      shape.selections += inner.selections;
      shape.aliases += inner.aliases;
      shape.directives += inner.directives;
      if (inner.repeats.count > shape.repeats.count) shape.repeats = inner.repeats;
    }
    return shape;
  };

  const shapes = new Map<OperationDefinitionNode, OperationShape>();
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const shape = setShape(d.selectionSet, new Map());
    shapes.set(d, { ...shape, directives: shape.directives + (d.directives?.length ?? 0) });
  }
  return shapes;
}

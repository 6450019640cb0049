import { isEventField, type EventField } from '@rapport/core/internal';
import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * The fields of `Event` an `events` connection field selects (under `nodes` and `edges.node`,
 * through fragments too), so the page reads only their columns. Null (read everything) when any
 * selected field is not a stored field of the event (a plugin's field on `Event`, `__typename`
 * aside), since its resolver may read any of the record. `@include`/`@skip` are not evaluated: a
 * field they might leave out is still read, which costs a column, never a wrong answer.
 */
export function selectedEventFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): EventField[] | null {
  const fields = new Set<EventField>();
  let all = false;
  const visit = (set: SelectionSetNode | undefined, onField: (f: FieldNode) => void) => visitFields(set, info.fragments, onField);
  const onEventField = (f: FieldNode) => {
    const name = f.name.value;
    if (name === '__typename') return;
    if (isEventField(name)) fields.add(name);
    else all = true;
  };
  for (const node of info.fieldNodes) {
    visit(node.selectionSet, (f) => {
      if (f.name.value === 'nodes') visit(f.selectionSet, onEventField);
      else if (f.name.value === 'edges') visit(f.selectionSet, (e) => e.name.value === 'node' && visit(e.selectionSet, onEventField));
    });
  }
  return all ? null : [...fields].sort();
}

/** Calls `onField` for each field of a selection set, through inline fragments and fragment spreads. */
export function visitFields(set: SelectionSetNode | undefined, fragments: GraphQLResolveInfo['fragments'], onField: (f: FieldNode) => void): void {
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD) onField(s);
    else if (s.kind === Kind.INLINE_FRAGMENT) visitFields(s.selectionSet, fragments, onField);
    else {
      const fragment = fragments[s.name.value];
      if (fragment) visitFields(fragment.selectionSet, fragments, onField);
    }
  }
}

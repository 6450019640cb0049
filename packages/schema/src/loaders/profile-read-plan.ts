import { MAX_EVENTS_PAGE, type ProfileBundle, type ProfileReadPlan } from '@rapport/core/internal';
import type { Loaders } from './loaders';
import { getArgumentValues, isObjectType, type FieldNode, type GraphQLResolveInfo } from 'graphql';
import { selectedEventFields, visitFields } from './event-selection';

/**
 * The child reads of a `Profile` selection that its own statement can bring (see core's
 * `ProfileBundleReader`): `identities`, and the first page of `events` when it has no cursor and
 * no filter (with the fields it selects). Null when the selection asks for neither, so the profile
 * is read as before. Fields are grouped by response name, as GraphQL merges them; when `events`
 * appears under several names, the first plain one is planned and the others load as usual.
 */
export function profileReadPlan(info: GraphQLResolveInfo): ProfileReadPlan | null {
  const profileType = info.schema.getType('Profile');
  if (!isObjectType(profileType)) return null;
  const eventsDef = profileType.getFields().events;
  let identities = false;
  const eventsByKey = new Map<string, FieldNode[]>();
  for (const node of info.fieldNodes) {
    visitFields(node.selectionSet, info.fragments, (f) => {
      if (f.name.value === 'identities') identities = true;
      else if (f.name.value === 'events' && eventsDef) {
        const key = f.alias?.value ?? 'events';
        eventsByKey.set(key, [...(eventsByKey.get(key) ?? []), f]);
      }
    });
  }
  let events: ProfileReadPlan['events'] = null;
  for (const nodes of eventsByKey.values()) {
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(eventsDef, nodes[0], info.variableValues);
    } catch {
      continue; // bad arguments: the field's own resolution reports them
    }
    const first = args.first;
    // A page size out of range is left to the field, which reports it on its own path.
    if (args.after != null || args.type != null || args.name != null || typeof first !== 'number' || first < 1 || first > MAX_EVENTS_PAGE) continue;
    events = { first, fields: selectedEventFields({ fieldNodes: nodes, fragments: info.fragments }) };
    break;
  }
  return identities || events ? { identities, events } : null;
}

/**
 * Puts what a bundle read into the request's loaders, under the keys the child fields' resolvers
 * ask for, so they read it from there (through the field guard, as any loaded value).
 */
export function primeBundle(loaders: Loaders, askedId: string, bundle: ProfileBundle, plan: ProfileReadPlan): void {
  const id = bundle.profile.id;
  loaders.profile.prime(askedId, bundle.profile);
  loaders.consents.prime(id, bundle.consents);
  if (bundle.identities) loaders.identities.prime(id, bundle.identities);
  if (bundle.events && plan.events) {
    loaders.events.prime({ profileId: id, args: { first: plan.events.first, after: null, type: null, name: null, fields: plan.events.fields } }, bundle.events);
  }
}

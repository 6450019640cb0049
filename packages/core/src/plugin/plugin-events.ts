import type { DeliveryStatus } from '../delivery/delivery.types';
import { eventColumns } from '../service/event.service';
import { PluginConfigError } from './plugin-registry';
import type { PluginEvents } from './plugin-services.types';
import type { RapportPlugin } from './plugin.types';

/** A bind placeholder: `$` and a parameter number. */
const PLACEHOLDER = /^\$[1-9][0-9]{0,4}$/;

/** The relation `ctx.events.sql` returns: every event column under its own name, for the ids in `idsParam`. */
export function eventRelationSql(idsParam: string): string {
  if (!PLACEHOLDER.test(idsParam)) throw new PluginConfigError(`ctx.events.sql: idsParam must be a parameter placeholder such as $1, got "${idsParam}"`);
  return `(SELECT ${eventColumns('e')} FROM rapport_event e WHERE e.id = ANY(${idsParam}::bigint[]))`;
}

/** The relation `ctx.events.all` returns: every stored event, every column under its own name. */
export const ALL_EVENTS_SQL = `(SELECT ${eventColumns('e')} FROM rapport_event e)`;

/** `ctx.events` of one plugin: its delivery's status, a wake-up, and (when its delivery receives events) the event relation. */
export function pluginEvents(p: RapportPlugin, deps: { deliveryStatus(plugin: string): Promise<DeliveryStatus | null>; kickDelivery(): void }): PluginEvents {
  const receivesEvents = p.delivery !== undefined && (p.delivery.kinds === undefined || p.delivery.kinds.includes('event'));
  return {
    status: () => deps.deliveryStatus(p.name),
    kick: () => deps.kickDelivery(),
    sql(idsParam: string): string {
      if (!receivesEvents) throw new PluginConfigError(`plugin ${p.name}: ctx.events.sql is for a plugin whose delivery receives events (delivery.kinds with "event")`);
      return eventRelationSql(idsParam);
    },
    all(): string {
      if (!receivesEvents || p.delivery?.from !== 'history') {
        throw new PluginConfigError(`plugin ${p.name}: ctx.events.all is for a plugin whose delivery receives events from history (delivery.kinds with "event", from: "history")`);
      }
      return ALL_EVENTS_SQL;
    },
  };
}

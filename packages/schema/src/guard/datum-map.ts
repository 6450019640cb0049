import type { Datum } from '@rapport/core/internal';

/**
 * A map keyed by a {@link Datum}, as nested maps of its parts (kind, then event, section and path
 * for an event payload key). The guard asks about every key of every event it serves: a lookup here
 * builds no key string (the parts are strings the event already holds, whose hashes V8 keeps), where
 * a joined key would be built and hashed on each read. Bounded: past `max` entries it starts over.
 */
export class DatumMap<T> {
  private readonly byKind = new Map<string, Map<string, T>>();
  private readonly events = new Map<string, Map<string, Map<string, T>>>();
  private count = 0;

  constructor(private readonly max: number) {}

  get(d: Datum): T | undefined {
    if (d.kind === 'eventKey') return this.events.get(d.event)?.get(d.section)?.get(d.path);
    return this.byKind.get(d.kind)?.get(nameOf(d));
  }

  set(d: Datum, value: T): void {
    if (this.count >= this.max) this.clear();
    let inner: Map<string, T> | undefined;
    let key: string;
    if (d.kind === 'eventKey') {
      let sections = this.events.get(d.event);
      if (!sections) this.events.set(d.event, (sections = new Map()));
      inner = sections.get(d.section);
      if (!inner) sections.set(d.section, (inner = new Map()));
      key = d.path;
    } else {
      inner = this.byKind.get(d.kind);
      if (!inner) this.byKind.set(d.kind, (inner = new Map()));
      key = nameOf(d);
    }
    if (!inner.has(key)) this.count++;
    inner.set(key, value);
  }

  clear(): void {
    this.byKind.clear();
    this.events.clear();
    this.count = 0;
  }
}

/** The one name of a datum within its kind (event payload keys are keyed by their three parts). */
function nameOf(d: Exclude<Datum, { kind: 'eventKey' }>): string {
  switch (d.kind) {
    case 'trait':
      return d.path;
    case 'identity':
      return d.type;
    case 'collection':
      return d.name;
  }
}

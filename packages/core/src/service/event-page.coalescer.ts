import { ReadCoalescer } from '../database/read-coalescer';
import type { Page } from '../pagination/cursor';
import type { EventPageArgs, EventRecord, EventService } from './event.service';

type PageRequest = { profileId: string; args: EventPageArgs };

/** The arguments every page of one statement shares (`pagesOf` takes one shape per statement). */
export const pageShapeOf = (a: EventPageArgs) => JSON.stringify([a.first, a.type ?? null, a.name ?? null, a.fields ? [...a.fields].sort() : null]);

/**
 * Events pages of concurrent requests read by one statement per page shape (page size, `type`,
 * `name`): the hot child read of every profile query, coalesced like the profile read itself (see
 * {@link ReadCoalescer}). Each request still batches its own pages through its DataLoader first.
 */
export class EventPageCoalescer {
  private readonly byShape = new Map<string, ReadCoalescer<Page<EventRecord>>>();

  constructor(private readonly events: EventService) {}

  /** One page per request, in order; the same answers as {@link EventService.pagesOf}. */
  async pagesOf(requests: readonly PageRequest[]): Promise<Array<Page<EventRecord>>> {
    if (!requests.length) return [];
    // pagesOf validates the shape (page size, type) and throws before anything is shared.
    const shape = pageShapeOf(requests[0].args);
    if (requests.some((r) => pageShapeOf(r.args) !== shape)) return this.events.pagesOf(requests);
    const keyOf = (r: PageRequest) => `${r.profileId}|${r.args.after ?? ''}`;
    const found = await this.coalescer(shape, requests[0].args).get(requests.map(keyOf));
    return requests.map((r) => found.get(keyOf(r))!);
  }

  private coalescer(shape: string, args: EventPageArgs): ReadCoalescer<Page<EventRecord>> {
    let c = this.byShape.get(shape);
    if (!c) {
      // Shapes are bounded by the page-size ceiling times the names asked; keep the map small anyway.
      if (this.byShape.size > 256) this.byShape.clear();
      const { first, type, name, fields } = args;
      c = new ReadCoalescer<Page<EventRecord>>(async (keys) => {
        const reqs = keys.map((k) => {
          const bar = k.indexOf('|');
          return { profileId: k.slice(0, bar), args: { first, type, name, fields, after: k.slice(bar + 1) || null } };
        });
        const pages = await this.events.pagesOf(reqs);
        return new Map(keys.map((k, i) => [k, pages[i]]));
      });
      this.byShape.set(shape, c);
    }
    return c;
  }
}

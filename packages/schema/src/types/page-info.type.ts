import { Field, ObjectType } from 'type-graphql';
import type { Page } from '@rapport/core';

/** Relay page info. */
@ObjectType('PageInfo')
export class PageInfo {
  @Field() hasNextPage: boolean;
  @Field(() => String, { nullable: true }) endCursor: string | null;
}

/**
 * Turns a core page into a Relay connection object. `edges` and `endCursor` are built when a query
 * selects them: most select `nodes` only, and a page's cursors are encoded on first use.
 */
export function toConnection<T>(page: Page<T>): { edges: Array<{ cursor: string; node: T }>; nodes: T[]; pageInfo: PageInfo } {
  let edges: Array<{ cursor: string; node: T }> | undefined;
  let endCursor: string | null | undefined;
  return {
    get edges() {
      return (edges ??= page.nodes.map((node, i) => ({ cursor: page.cursors[i], node })));
    },
    set edges(value) {
      edges = value;
    },
    nodes: page.nodes,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      get endCursor() {
        return endCursor !== undefined ? endCursor : (page.cursors[page.cursors.length - 1] ?? null);
      },
      set endCursor(value) {
        endCursor = value;
      },
    },
  };
}

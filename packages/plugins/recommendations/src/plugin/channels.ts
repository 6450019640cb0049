/** Topics of the messages between server processes (`ctx.notify`). */
export const TOPICS = {
  /** A new model version was stored; payload: its id. */
  model: 'model',
  /** Catalog rows changed; payload: JSON array of item ids. */
  items: 'items',
  /** Interactions of profiles changed; payload: comma-separated profile ids. */
  history: 'history',
} as const;

/** Notification channels between server processes (PostgreSQL LISTEN/NOTIFY). */
export const CHANNELS = {
  /** A new model version was stored; payload: its id. */
  model: 'rapport_rec_model',
  /** Catalog rows changed; payload: JSON array of item ids. */
  items: 'rapport_rec_items',
  /** Interactions of profiles changed; payload: comma-separated profile ids. */
  history: 'rapport_rec_history',
} as const;

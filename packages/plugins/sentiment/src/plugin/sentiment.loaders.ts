import { createLoadersKey, type PluginContext } from '@rapport/core';
import type DataLoader from 'dataloader';
import type { ResolvedSentimentOptions } from './options';
import type { TextRow } from './sentiment.store';

/** What the plugin's `loaders()` gives its resolvers. */
export interface SentimentLoaders {
  opts: ResolvedSentimentOptions;
  /** The plugin context (its tables, consent), for mutations. */
  plugin: PluginContext;
  /** A profile's latest analysed texts (scored only, newest first, at most {@link ROLLUP_WINDOW}). */
  scored: DataLoader<string, TextRow[]>;
  /** Texts by id. */
  texts: DataLoader<string, TextRow | null>;
  /** Wakes analysis of freshly stored texts in this process. */
  analyseSoon(ids: string[]): void;
}

/** How many of a person's latest scored texts the rollup reads. */
export const ROLLUP_WINDOW = 100;

/** The typed key of the plugin's request loaders. */
export const sentimentLoaders = createLoadersKey<SentimentLoaders>('sentiment');

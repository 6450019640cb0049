import { createLoadersKey, type PluginContext } from '@rapport/core';
import type { ResolvedJourneysOptions } from './options';
import type { StageLoaders } from './stage.loaders';

/** What the plugin's `loaders()` gives its resolvers. */
export interface JourneysLoaders {
  opts: ResolvedJourneysOptions;
  /** The plugin context: its store and consent SQL. */
  plugin: PluginContext;
  /** Stage reads (`Profile.journey`), batched per request. */
  stages: StageLoaders;
}

/** The typed key of the plugin's request loaders. */
export const journeysLoaders = createLoadersKey<JourneysLoaders>('journeys');

import type { RapportPlugin } from '@rapport/core';

/** Plugins the default server runs when no rapport.config.js says otherwise. */
export function defaultPlugins(): RapportPlugin[] {
  return [];
}

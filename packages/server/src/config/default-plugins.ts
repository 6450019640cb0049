import type { RapportPlugin } from '@rapport/core/internal';
import { recommendationsPlugin } from '@rapport/plugin-recommendations';

/** Plugins the default server runs when no rapport.config.js says otherwise. */
export function defaultPlugins(): RapportPlugin[] {
  return [recommendationsPlugin()];
}

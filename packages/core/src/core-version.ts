/** The version of `@rapport/core`, for plugin compatibility checks. */
export const CORE_VERSION: string = (require('../package.json') as { version: string }).version;

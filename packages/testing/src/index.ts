export { createTestEnvironment, type TestEnvironment, type HttpResult } from './test-environment';
export { createTestDatabase, type TestDatabase } from './test-database';
export { freePort } from './free-port';
export { createPluginTestkit, type PluginTestkit, type TestkitCaller, type TestkitResult } from './plugin-testkit';
export { erasureRace, type ErasureRace, type ErasureRaceCase } from './erasure-race';

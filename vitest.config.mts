import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// An ES module (.mts): Vite loads it natively, with no CommonJS shim or warning.
const require = createRequire(import.meta.url);
const root = path.dirname(fileURLToPath(import.meta.url));
const r = (p: string) => path.resolve(root, p);

/**
 * One vitest run for the whole monorepo.
 * - SWC (not esbuild) transforms TypeScript so type-graphql and TypeORM get decorator metadata.
 * - `@rapport/*` resolves to each package's `src`, so tests never need a build first.
 * - The global setup starts one PostgreSQL for the run (embedded, or TEST_DATABASE_URL);
 *   each test file creates its own database from it.
 */
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    // graphql ships CJS (main) and ESM (module) builds, and so do some of its dependants.
    // type-graphql and Apollo load the CJS one through Node; Vite would pick the ESM one,
    // making a second copy ("Cannot use GraphQLSchema from another module or realm").
    alias: [
      { find: /^graphql$/, replacement: require.resolve('graphql/index.js') },
      { find: /^graphql-query-complexity$/, replacement: require.resolve('graphql-query-complexity') },
      { find: /^@rapport\/core$/, replacement: r('packages/core/src/index.ts') },
      { find: /^@rapport\/core\/internal$/, replacement: r('packages/core/src/internal.ts') },
      { find: /^@rapport\/schema$/, replacement: r('packages/schema/src/index.ts') },
      { find: /^@rapport\/schema\/internal$/, replacement: r('packages/schema/src/internal.ts') },
      { find: /^@rapport\/server$/, replacement: r('packages/server/src/index.ts') },
      { find: /^@rapport\/testing$/, replacement: r('packages/testing/src/index.ts') },
      { find: /^@rapport\/plugin-recommendations$/, replacement: r('packages/plugins/recommendations/src/index.ts') },
      { find: /^@rapport\/plugin-sentiment$/, replacement: r('packages/plugins/sentiment/src/index.ts') },
      { find: /^@rapport\/plugin-journeys$/, replacement: r('packages/plugins/journeys/src/index.ts') },
    ],
  },
  test: {
    // RAPPORT_CANARY=1 runs only the deliberately failing canary (see .ci/run), through this same config.
    include: process.env.RAPPORT_CANARY === '1'
      ? ['packages/testing/canary/*.canary.spec.ts']
      : ['packages/**/test/**/*.spec.ts', 'examples/**/test/**/*.spec.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: [r('packages/testing/src/global-setup.ts')],
  },
});

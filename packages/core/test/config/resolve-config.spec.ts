import { describe, expect, it } from 'vitest';
import { definePlugin } from '../../src/plugin/plugin.types';
import { ConfigError, type ConfigIssue } from '../../src/config/config-error';
import { resolveConfig } from '../../src/config/default-config';
import type { RapportConfigInput } from '../../src/config/rapport-config';

/** The issues resolveConfig throws for this input and environment (none: it resolved). */
function issuesOf(input: unknown, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    resolveConfig(input as RapportConfigInput, env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues;
  }
}

describe('resolveConfig checks the configuration and the environment', () => {
  it('reports every problem of the file and the environment at once, naming the key, the rule and the fix', () => {
    const issues = issuesOf(
      { ingestoin: {}, api: { rateLimitPerMinute: 'lots', maxDepth: 0 }, database: { embedded: { prot: 5433 } } },
      { RAPPORT_PG_POOL: 'ten', RAPPORT_SHUTDOWN_GRACE_MS: '-5' },
    );
    expect(issues.map((i) => `${i.source} ${i.key}`).sort()).toEqual([
      'env RAPPORT_PG_POOL', 'env RAPPORT_SHUTDOWN_GRACE_MS',
      'file api.maxDepth', 'file api.rateLimitPerMinute', 'file database.embedded.prot', 'file ingestoin',
    ]);
    const by = (key: string) => issues.find((i) => i.key === key)!;
    expect(by('ingestoin')).toMatchObject({ problem: 'unknown key: not a configuration section', fix: 'did you mean "ingestion"? Rename it' });
    expect(by('database.embedded.prot')).toMatchObject({ rule: 'keys of database.embedded: dataDir, port', fix: 'did you mean "port"? Rename it' });
    expect(by('api.rateLimitPerMinute')).toMatchObject({ problem: '"lots" is a string', rule: 'an integer ≥ 1' });
    expect(by('api.rateLimitPerMinute').fix).toContain('`rateLimitPerMinute: 6000` (the default)');
    expect(by('api.maxDepth')).toMatchObject({ problem: '0 is out of range', rule: 'an integer ≥ 1' });
    expect(by('RAPPORT_PG_POOL')).toMatchObject({ problem: '"ten" is not a number', rule: 'an integer ≥ 1', fix: 'set RAPPORT_PG_POOL to an integer ≥ 1, e.g. RAPPORT_PG_POOL=10 (the default), or unset it' });
    expect(by('RAPPORT_SHUTDOWN_GRACE_MS').rule).toBe('an integer from 0 to 2147483647');
  });

  it('the error message has one line per problem, with the file it came from', () => {
    let message = '';
    try {
      resolveConfig({ api: { rateLimitPerMinute: 'lots' } } as never, { RAPPORT_PG_POOL: 'ten' }, 'rapport.config.js');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'the configuration has 2 problems; nothing was started:',
      '  - api.rateLimitPerMinute (rapport.config.js): "lots" is a string; rule: an integer ≥ 1. Fix: write an integer ≥ 1, e.g. `rateLimitPerMinute: 6000` (the default), or remove the key for the default.',
      '  - RAPPORT_PG_POOL (environment): "ten" is not a number; rule: an integer ≥ 1. Fix: set RAPPORT_PG_POOL to an integer ≥ 1, e.g. RAPPORT_PG_POOL=10 (the default), or unset it.',
      'Every key and variable: docs/configuration.md',
    ]);
  });

  it('checks nested values, plugins as far as a plugin value allows, and never quotes a secret', () => {
    const loyalty = definePlugin(() => ({ name: 'loyalty' }));
    const issues = issuesOf(
      {
        plugins: [loyalty, loyalty()],
        consent: { policies: [{ type: 'Profile', field: 'traits.email', mask: 'blur' }], unclassifiedEventKeys: 'maybe' },
        identity: { survivorship: { traits: { plan: 'newest' } }, defaultPhoneRegion: 'USA' },
        database: { url: 'mysql://root:hunter2@db/x' },
      },
      { DATABASE_URL: 'http://user:s3cret@host/db', LOG_LEVEL: 'loud', RAPPORT_WORKERS: 'many' },
    );
    const by = (key: string) => issues.find((i) => i.key === key)!;
    expect(by('plugins[0]')).toMatchObject({ problem: 'a function, not a plugin' });
    expect(by('plugins[0]').fix).toContain('call the plugin factory');
    expect(issues.find((i) => i.key === 'plugins[1]')).toBeUndefined();
    expect(by('consent.policies[0].mask').rule).toBe("one of 'null', 'mask', 'hash'");
    expect(by('consent.unclassifiedEventKeys').problem).toBe('"maybe" is not allowed');
    expect(by('identity.survivorship.traits.plan').problem).toBe('"newest" is none of these forms');
    expect(by('identity.defaultPhoneRegion').rule).toBe('a two-letter region code');
    expect(by('database.url')).toMatchObject({ problem: 'the value is not allowed', rule: 'a postgres:// URL' });
    expect(by('DATABASE_URL').problem).toBe('the value is not allowed');
    expect(by('LOG_LEVEL').rule).toBe('one of fatal, error, warn, info, debug, trace, silent');
    expect(by('RAPPORT_WORKERS').rule).toBe('an integer from 1 to 256, or `auto`');
    expect(JSON.stringify(issues)).not.toMatch(/hunter2|s3cret/);
  });

  it('resolves a valid configuration: the file wins over the environment, an empty variable is unset', () => {
    const config = resolveConfig(
      { database: { poolSize: 4 }, api: { maxDepth: 7 }, plugins: [definePlugin(() => ({ name: 'loyalty' }))()], logger: undefined },
      { RAPPORT_PG_POOL: '20', RAPPORT_RATE_LIMIT: '99', RAPPORT_PG_PORT: '', DATABASE_URL: 'postgres://u@h/db' },
    );
    expect(config.database).toMatchObject({ poolSize: 4, url: 'postgres://u@h/db', embedded: { port: 54329 } });
    expect(config.api).toMatchObject({ maxDepth: 7, rateLimitPerMinute: 99 });
    expect(config.plugins.map((p) => p.name)).toEqual(['loyalty']);
  });
});

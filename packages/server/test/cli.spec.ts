import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@rapport/testing';
import { CLI, ROOT } from './support/cli-process';

// The `rapport` CLI as users run it: the built bin, in a shell-like environment without the test
// run's database, from directories of this file's own.
const exec = promisify(execFile);
const base = path.join(os.tmpdir(), `rapport-cli-${randomBytes(4).toString('hex')}`);
const { DATABASE_URL: _d, RAPPORT_CONFIG: _c, RAPPORT_DATA_DIR: _r, LOG_LEVEL: _l, ...shell } = process.env;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rapport ...` in `cwd` with extra variables; never throws on a non-zero exit. */
async function rapport(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? base, env: { ...shell, ...opts.env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'packages/server/dist/cli/rapport.cli.js'))) await exec('npx', ['tsc', '-b'], { cwd: ROOT });
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
}, 120_000);

afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('help and version', () => {
  it('`--help`, `help`, `-h` print the commands and exit 0', async () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const r = await rapport(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: rapport <command> [options]');
      for (const c of ['start', 'migrate', 'keys', 'resolve', 'train']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  });

  it("`<command> --help` and `help <command>` print that command's help and exit 0", async () => {
    const start = await rapport(['start', '--help']);
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('Usage: rapport start [--workers <n|auto>] [--create]');
    const keys = await rapport(['help', 'keys']);
    expect(keys.code).toBe(0);
    expect(keys.stdout).toContain('rapport keys create --role <role>...');
    const sub = await rapport(['keys', 'create', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toBe(keys.stdout);
  });

  it('`--version` prints the version of @rapport/server', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/server/package.json'), 'utf8')) as { version: string };
    const r = await rapport(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

describe('command lines that cannot run exit 2 with a hint, before touching a database', () => {
  it('an unknown option names it and the command\'s help', async () => {
    const r = await rapport(['start', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rapport start: unknown option --bogus');
    expect(r.stderr).toContain('rapport start --help');
    const typo = await rapport(['keys', 'create', '--rol', 'admin']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown option --rol; did you mean --role?');
  });

  it('an unknown command, a missing value, an extra word and a missing subcommand', async () => {
    const cmd = await rapport(['strat']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain('unknown command "strat"; did you mean "start"?');
    const value = await rapport(['start', '--workers']);
    expect(value.code).toBe(2);
    expect(value.stderr).toContain("rapport start: Option '--workers <value>' argument missing");
    const extra = await rapport(['migrate', 'now']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('rapport migrate: unexpected argument "now"');
    const none = await rapport(['keys']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('a subcommand is missing: create, list or revoke');
    const role = await rapport(['keys', 'create']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role is required');
  });
});

describe('configuration problems stop the start, all at once', () => {
  it('an unknown section, a variable that is not a number and a wrong type each name the key, the rule and the fix', async () => {
    const dir = path.join(base, 'bad-config');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'rapport.config.js'), "module.exports = { ingestoin: { maxBatchMessages: 10 }, api: { rateLimitPerMinute: 'lots' } };\n");
    const r = await rapport(['start'], { cwd: dir, env: { RAPPORT_PG_POOL: 'ten', PORT: '0' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rapport start: the configuration has 3 problems; nothing was started:');
    expect(r.stderr).toContain('- ingestoin (rapport.config.js): unknown key: not a configuration section;');
    expect(r.stderr).toContain('Fix: did you mean "ingestion"? Rename it.');
    expect(r.stderr).toContain('- api.rateLimitPerMinute (rapport.config.js): "lots" is a string; rule: an integer ≥ 1. Fix: write an integer ≥ 1, e.g. `rateLimitPerMinute: 6000` (the default)');
    expect(r.stderr).toContain('- RAPPORT_PG_POOL (environment): "ten" is not a number; rule: an integer ≥ 1. Fix: set RAPPORT_PG_POOL to an integer ≥ 1, e.g. RAPPORT_PG_POOL=10 (the default), or unset it.');
    // Refused before anything started: no database was made.
    expect(fs.existsSync(path.join(dir, '.rapport'))).toBe(false);
  });

  it('a plugin factory given instead of a plugin, and a password in a bad DATABASE_URL that is never echoed', async () => {
    const dir = path.join(base, 'bad-plugin');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'custom.config.js'), 'const loyaltyPlugin = () => ({ name: "loyalty" });\nmodule.exports = { plugins: [loyaltyPlugin] };\n');
    const r = await rapport(['migrate'], { cwd: dir, env: { RAPPORT_CONFIG: 'custom.config.js', DATABASE_URL: 'mysql://u:hunter2@db/x' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('- plugins[0] (custom.config.js): a function, not a plugin;');
    expect(r.stderr).toContain('- DATABASE_URL (environment): the value is not allowed; rule: a postgres:// URL.');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('RAPPORT_CONFIG naming a file that does not exist', async () => {
    const r = await rapport(['keys', 'list'], { env: { RAPPORT_CONFIG: 'nowhere.js' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('RAPPORT_CONFIG (environment): "nowhere.js": no such file');
  });
});

describe('no database configured', () => {
  it('refuses, says where it looked and suggests --create; nothing is created', async () => {
    const dir = path.join(base, 'elsewhere');
    fs.mkdirSync(dir);
    const cases: Array<[string[], string]> = [
      [['keys', 'create', '--role', 'admin'], 'rapport keys create --role admin --create'],
      [['start'], 'rapport start --create'],
      [['migrate'], 'rapport migrate --create'],
      // resolve and train only read: a new, empty database has nothing for them.
      [['resolve'], 'rapport migrate --create (then load data)'],
    ];
    for (const [args, hint] of cases) {
      const r = await rapport(args, { cwd: dir, env: { PORT: '0' } });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`no database: DATABASE_URL is not set and there is no embedded PostgreSQL at ${path.join(dir, '.rapport/pgdata')}`);
      expect(r.stderr).toContain(`\n  ${hint}\n`);
      expect(r.stdout).toBe('');
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('--create makes the embedded database once; later commands there find it, commands elsewhere still refuse', async () => {
    const home = path.join(base, 'home');
    const other = path.join(base, 'other');
    fs.mkdirSync(home);
    fs.mkdirSync(other);
    const env = { RAPPORT_PG_PORT: String(await freePort()) };
    const created = await rapport(['keys', 'create', '--role', 'admin', '--name', 'first', '--create'], { cwd: home, env });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(`creating a new embedded PostgreSQL database at ${path.join(home, '.rapport/pgdata')} (--create)`);
    expect(created.stdout).toMatch(/^rk_[A-Za-z0-9_-]{32}\n$/);
    const listed = await rapport(['keys', 'list'], { cwd: home, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('  first  roles=admin');
    expect(listed.stderr).not.toContain('creating');
    const lost = await rapport(['keys', 'list'], { cwd: other, env });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain(`no embedded PostgreSQL at ${path.join(other, '.rapport/pgdata')}`);
  }, 120_000);
});

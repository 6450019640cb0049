// PostGraphile 4 beside Rapport, for bench/read-vs-postgraphile.bench.mjs. It is installed from
// bench/postgraphile/package-lock.json into ~/.cache/rapport/postgraphile (once; `npm ci` from the
// npm registry), not into the project: PostGraphile 4 needs graphql 15, the project keeps one copy
// of graphql (16).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../postgraphile');
const CACHE = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'rapport', 'postgraphile');

/** Installs the pinned PostGraphile into the cache folder when it is not there yet; returns its node_modules. */
export function installPostGraphile() {
  const lock = fs.readFileSync(path.join(HERE, 'package-lock.json'), 'utf8');
  const stamp = path.join(CACHE, '.lock-copy');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== lock) {
    fs.mkdirSync(CACHE, { recursive: true });
    fs.copyFileSync(path.join(HERE, 'package.json'), path.join(CACHE, 'package.json'));
    fs.writeFileSync(path.join(CACHE, 'package-lock.json'), lock);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: CACHE, stdio: 'inherit' });
    fs.writeFileSync(stamp, lock);
  }
  return path.join(CACHE, 'node_modules');
}

/** Starts PostGraphile on `databaseUrl` in its own process; resolves with { url, pid, stop() }. */
export function startPostGraphile(databaseUrl, { pool = 20 } = {}) {
  const modules = installPostGraphile();
  const child = spawn(process.execPath, [path.join(HERE, 'postgraphile-child.cjs')], {
    env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: databaseUrl, PGL_MODULES: modules, PG_POOL: String(pool), PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`postgraphile exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (!m) return;
      child.removeAllListeners('exit');
      resolve({
        url: `http://127.0.0.1:${m[1]}`, pid: child.pid,
        stop: () => new Promise((res) => { child.once('exit', () => res()); child.kill('SIGTERM'); }),
      });
    });
  });
}

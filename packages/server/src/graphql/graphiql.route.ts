import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CompressedAssets, contentVersion, type AssetSpec } from '../http/compressed-asset';

/** GraphiQL, React and ReactDOM come from the npm packages, so the IDE works with no network at all. */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  'react.js': { pkg: 'react', file: 'umd/react.production.min.js', type: 'application/javascript; charset=utf-8' },
  'react-dom.js': { pkg: 'react-dom', file: 'umd/react-dom.production.min.js', type: 'application/javascript; charset=utf-8' },
  'graphiql.js': { pkg: 'graphiql', file: 'graphiql.min.js', type: 'application/javascript; charset=utf-8' },
  'graphiql.css': { pkg: 'graphiql', file: 'graphiql.min.css', type: 'text/css; charset=utf-8' },
};

/** The key is kept under this name in `sessionStorage` when the user asks for it. */
export const GRAPHIQL_KEY_STORAGE = 'rapport.graphiql.key';

/** A file inside an installed package (its `exports` may not list UMD builds, so resolve the package root). */
function resolveAsset(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

let versions: Record<string, string> | undefined;
/** `?v=` of each asset's URL: a digest of its content, so a new version is a new URL and the old one may be cached for good. */
function assetVersions(): Record<string, string> {
  versions ??= Object.fromEntries(Object.entries(ASSETS).map(([name, a]) => [name, contentVersion(resolveAsset(a.pkg, a.file))]));
  return versions;
}

const src = (name: string) => `/graphiql/${name}?v=${assetVersions()[name]}`;

/**
 * The IDE page. It asks for the API key first and mounts GraphiQL only once a key has been
 * checked (one `{ __typename }` POST carrying it): no request to the GraphQL endpoint ever
 * leaves without a key. The key lives in the page's memory and is sent as
 * `Authorization: Bearer`; it goes into `sessionStorage` (this tab only, gone when the tab
 * closes) only when the user ticks the box, and "Forget key" clears it. GraphiQL's own
 * persistence (localStorage) never sees it: it is not in the Headers pane.
 */
const PAGE = (endpoint: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Rapport GraphQL</title>
  <meta name="referrer" content="no-referrer" />
  <style>
    body { margin: 0; height: 100vh; font-family: system-ui, sans-serif; }
    #graphiql { height: 100vh; }
    #key-form { max-width: 34rem; margin: 12vh auto; padding: 2rem; border: 1px solid #ddd; border-radius: 8px; }
    #key-form h1 { font-size: 1.4rem; margin-top: 0; }
    #key-form input[type=password] { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; margin: .3rem 0 .8rem; }
    #key-form button { padding: .5rem 1.2rem; font: inherit; }
    #key-error { color: #b00020; min-height: 1.2em; }
    .hint { color: #555; font-size: .9rem; }
  </style>
  <link rel="stylesheet" href="${src('graphiql.css')}" />
</head>
<body>
  <form id="key-form" autocomplete="off">
    <h1>Rapport GraphQL</h1>
    <label for="api-key">API key</label>
    <input id="api-key" name="api-key" type="password" placeholder="rk_…" required autofocus />
    <label><input id="remember-key" type="checkbox" /> Keep it in this tab until the tab closes (sessionStorage)</label>
    <p id="key-error" role="alert"></p>
    <button type="submit">Open the IDE</button>
    <p class="hint">Create a key with <code>npx rapport keys create --role admin</code> (or <code>--role app</code> to read profiles).
      It is sent to this server only, as <code>Authorization: Bearer</code>. Add <code>X-Rapport-Purpose</code> in the IDE's Headers pane to read for a purpose.</p>
  </form>
  <div id="graphiql" hidden></div>
  <script src="${src('react.js')}"></script>
  <script src="${src('react-dom.js')}"></script>
  <script src="${src('graphiql.js')}"></script>
  <script>
  (function () {
    var endpoint = ${JSON.stringify(endpoint)};
    var storageName = ${JSON.stringify(GRAPHIQL_KEY_STORAGE)};
    var form = document.getElementById('key-form');
    var input = document.getElementById('api-key');
    var remember = document.getElementById('remember-key');
    var error = document.getElementById('key-error');
    var container = document.getElementById('graphiql');
    var root = null;

    function stored() { try { return sessionStorage.getItem(storageName); } catch (e) { return null; } }
    function forget() { try { sessionStorage.removeItem(storageName); } catch (e) {} }

    // Resolves to null when the key works, else to what to tell the user.
    function check(key) {
      return fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + key },
        body: JSON.stringify({ query: '{ __typename }' }),
      }).then(function (res) {
        if (res.ok) return null;
        return res.json().then(function (body) {
          var m = body && body.errors && body.errors[0] && body.errors[0].message;
          return (m || 'the server answered ' + res.status) + ' (HTTP ' + res.status + ')';
        }, function () { return 'the server answered ' + res.status; });
      }, function (err) { return 'the server did not answer: ' + err.message; });
    }

    function showForm(message) {
      if (root) { root.unmount(); root = null; }
      container.hidden = true;
      form.hidden = false;
      error.textContent = message || '';
      input.focus();
    }

    function mount(key) {
      form.hidden = true;
      input.value = '';
      container.hidden = false;
      var fetcher = GraphiQL.createFetcher({ url: endpoint, headers: { Authorization: 'Bearer ' + key } });
      var signOut = React.createElement('button', {
        type: 'button', className: 'graphiql-un-styled graphiql-toolbar-button', title: 'Forget key', 'aria-label': 'Forget key',
        onClick: function () { forget(); showForm(''); },
      }, '\u238b');
      root = ReactDOM.createRoot(container);
      root.render(React.createElement(GraphiQL, {
        fetcher: fetcher,
        toolbar: { additionalContent: signOut },
        defaultQuery: '# Your key is set. Run:\\n{\\n  health { status version database }\\n  profiles(first: 5) {\\n    nodes { id traits identities { type value } }\\n  }\\n}\\n',
      }));
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var key = input.value.trim();
      if (!key) { error.textContent = 'Enter an API key.'; return; }
      error.textContent = 'Checking the key…';
      check(key).then(function (problem) {
        if (problem) { showForm('This key was not accepted: ' + problem); return; }
        if (remember.checked) { try { sessionStorage.setItem(storageName, key); } catch (e) {} }
        mount(key);
      });
    });

    var saved = stored();
    if (saved) {
      check(saved).then(function (problem) {
        if (problem) { forget(); showForm('The key kept in this tab was not accepted: ' + problem); } else mount(saved);
      });
    }
  })();
  </script>
</body>
</html>`;

/**
 * Serves GraphiQL at `GET /graphql` (for browsers) and its assets under `/graphiql/`, brotli or
 * gzip by `Accept-Encoding`, compressed once per process (see {@link CompressedAssets}). Asset URLs
 * carry a digest of their content (`?v=`), so they are cached for a year; a request without it
 * (or with an old one) gets a day.
 */
export function registerGraphiql(app: FastifyInstance): (accept: string | undefined) => boolean {
  const specs = new Map<string, AssetSpec>();
  for (const [name, a] of Object.entries(ASSETS)) {
    specs.set(name, { file: resolveAsset(a.pkg, a.file), type: a.type, cacheControl: 'public, max-age=86400' });
  }
  const assets = new CompressedAssets(specs);
  app.get<{ Params: { asset: string }; Querystring: { v?: string } }>('/graphiql/:asset', async (req, reply) => {
    const name = req.params.asset;
    if (!assets.has(name)) return reply.status(404).send({ success: false, error: { code: 'NOT_FOUND', message: `no asset ${name}` } });
    return assets.send(req, reply, name, req.query.v === assetVersions()[name] ? 'public, max-age=31536000, immutable' : undefined);
  });
  /** True when a GET is a browser asking for a page rather than a GraphQL query. */
  return (accept) => !!accept && accept.includes('text/html');
}

export { PAGE as graphiqlPage };

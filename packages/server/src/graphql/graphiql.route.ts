import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** GraphiQL, React and ReactDOM come from the npm packages, so the IDE works with no network at all. */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  'react.js': { pkg: 'react', file: 'umd/react.production.min.js', type: 'application/javascript' },
  'react-dom.js': { pkg: 'react-dom', file: 'umd/react-dom.production.min.js', type: 'application/javascript' },
  'graphiql.js': { pkg: 'graphiql', file: 'graphiql.min.js', type: 'application/javascript' },
  'graphiql.css': { pkg: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
};

/** A file inside an installed package (its `exports` may not list UMD builds, so resolve the package root). */
function resolveAsset(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

const PAGE = (endpoint: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Rapport GraphQL</title>
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
  <link rel="stylesheet" href="/graphiql/graphiql.css" />
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/react.js"></script>
  <script src="/graphiql/react-dom.js"></script>
  <script src="/graphiql/graphiql.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({ url: ${JSON.stringify(endpoint)} });
    const root = ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {
      fetcher,
      defaultEditorToolsVisibility: 'headers',
      headers: JSON.stringify({ Authorization: 'Bearer <paste an app or admin key: npx rapport keys create --role admin>' }, null, 2),
      defaultQuery: '# Set your key in Headers below, then run:\\n{\\n  health { status version database }\\n  profiles(first: 5) {\\n    nodes { id traits identities { type value } }\\n  }\\n}\\n',
    }));
  </script>
</body>
</html>`;

/** Serves GraphiQL at `GET /graphql` (for browsers) and its assets under `/graphiql/`. */
export function registerGraphiql(app: FastifyInstance): (accept: string | undefined) => boolean {
  const cache = new Map<string, Buffer>();
  app.get<{ Params: { asset: string } }>('/graphiql/:asset', async (req, reply) => {
    const a = ASSETS[req.params.asset];
    if (!a) return reply.status(404).send({ success: false, error: { code: 'NOT_FOUND', message: `no asset ${req.params.asset}` } });
    let body = cache.get(req.params.asset);
    if (!body) cache.set(req.params.asset, (body = fs.readFileSync(resolveAsset(a.pkg, a.file))));
    return reply.header('content-type', a.type).header('cache-control', 'public, max-age=86400').send(body);
  });
  /** True when a GET is a browser asking for a page rather than a GraphQL query. */
  return (accept) => !!accept && accept.includes('text/html');
}

export { PAGE as graphiqlPage };

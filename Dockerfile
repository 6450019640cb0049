# syntax=docker/dockerfile:1
# Rapport in a container: `docker compose up` (compose.yaml) runs it with PostgreSQL.
# Build: docker build -t rapport .   Run: docker run -e DATABASE_URL=postgres://... -p 4000:4000 rapport
# What was and was not checked on the machine this was written on: docs/operations.md, "The container".

# --- build: every dependency (TypeScript included), then `tsc -b` for all workspaces ---------------
FROM node:20.19-bookworm-slim AS build
WORKDIR /src
COPY . .
# `npm ci` runs the root `prepare` script (tsc -b); install scripts run only for the packages the
# root package.json's allowScripts lists (embedded PostgreSQL's, tfjs-node's, which may fail: optional).
RUN npm ci --no-audit --no-fund \
 && test -f packages/server/dist/cli/rapport.cli.js
# What the runtime needs: the lock file and, per workspace, its manifest and built files (no sources,
# no tests, no build info). Workspace manifests must all be there for `npm ci` to accept the lock file.
RUN mkdir -p /out \
 && cp package.json package-lock.json /out/ \
 && for d in packages/* packages/plugins/* examples/*; do \
      [ -f "$d/package.json" ] || continue; \
      mkdir -p "/out/$d" && cp "$d/package.json" "/out/$d/"; \
      for f in dist bin data schema.graphql; do if [ -e "$d/$f" ]; then cp -r "$d/$f" "/out/$d/"; fi; done; \
    done \
 && find /out -name '*.tsbuildinfo' -delete \
 && rm -rf /out/packages/*/dist/api-temp

# --- runtime: production dependencies only, a non-root user -------------------------------------
FROM node:20.19-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    RAPPORT_DATA_DIR=/data/pgdata
WORKDIR /app
COPY --from=build /out/ ./
# The root `prepare` script builds with TypeScript, a dev dependency that is not installed here: the
# code was built in the build stage, so the script goes from the image's copy of package.json.
RUN npm pkg delete scripts.prepare \
 && npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /data \
 && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
# Readiness: the database answers, migrations ran, plugins started (docs/operations.md). Node's own
# fetch: the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "packages/server/bin/rapport.js"]
# With DATABASE_URL unset, the embedded PostgreSQL in /data is used; `start --create` makes it on
# the first run (a mounted, empty /data): docs/operations.md.
CMD ["start"]

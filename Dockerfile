# syntax=docker/dockerfile:1
# The render-queue worker. Build: docker build -t render-queue-worker .
# Run it with docker-compose.temporal.yml, or alone with --env-file .env (see .env.example).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript and bundle the workflow code once ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# tsc -p tsconfig.build.json -> dist/src/worker.js, the CLI bundle dist/cli-main.js and its launcher dist/cli.js; then the workflow bundle, built here and
# not at every worker start (bundling takes seconds and a lot of memory).
RUN npm run build \
 && npx tsx scripts/build-workflow-bundle.ts dist/workflow-bundle.js

# --- runtime: production dependencies and compiled code only, non-root ---------------------
FROM ${NODE_IMAGE} AS runtime
# The V8 heap is capped so garbage is collected before it fills a small container: with the
# workflow cache bounded (WORKER_LIMITS) the worker's live heap stays well under it at any backlog.
# The young generation is kept small: V8 flags hold for every isolate, and the process has five
# (the main one and one per workflow Worker), each with a nursery of its own. Two malloc arenas,
# not glibc's 8 per core: the Rust core's and the workflow threads' allocations otherwise spread
# over many arenas and fragment. Measured by `npm run bench -- --only=resources`
# (docs/BENCHMARKS.md).
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-old-space-size=160 --max-semi-space-size=2" \
    MALLOC_ARENA_MAX=2 \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js \
    PGLITE_DIR=/app/.data/pglite \
    METRICS_PORT=9464
WORKDIR /app
COPY package.json package-lock.json ./
# No tsx, jest or TypeScript here: the image runs compiled JavaScript.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
# The CLI as one bundled file (starts in a fraction of the time) and its launcher, which runs it
# through V8's code cache: `node dist/cli.js <command>`.
COPY --from=build /app/dist/cli.js /app/dist/cli-main.js ./dist/
# Found by src/store/migrate.ts from dist/src/store (../../../supabase/migrations).
COPY supabase/migrations ./supabase/migrations
# The embedded PGlite read model (used when no DATABASE_URL/SUPABASE_URL is set) writes here.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 9464
# /healthz answers 200 only while every Temporal Worker of the process is running.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The Temporal Runtime drains the Workers on SIGTERM (running renders get the shutdown grace time).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/worker.js"]

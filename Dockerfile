# The connector's image: built from this checkout in one stage, run from a second that holds
# only the compiled code, its production dependencies and the files it reads at run time
# (Avro schemas, Lua scripts, the admin console's files, the Salesforce package's metadata). docker-compose.yml builds and runs
# it; CI does not (it has no Docker): test/unit/monitoring-stack.test.ts checks this file statically.
# Node 24: the connector spends about a fifth less CPU per change than on 20 or 22
# (docs/benchmarks.md, "Node 24 against Node 20 and 22"); --build-arg NODE_IMAGE=... for another.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
COPY console ./console
COPY salesforce ./salesforce
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
# README "Memory": a heap limit, so V8 collects garbage before the heap grows towards its
# default limit, and glibc's fixed mmap threshold, so freed Kafka fetch buffers go back to the
# system. For Kafka and Redis deployments; the embedded mode keeps every pair's state in the heap.
ENV NODE_ENV=production \
    PORT=8080 \
    NODE_OPTIONS=--max-old-space-size=256 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/src ./dist/src
COPY --from=build --chown=node:node /app/schemas ./schemas
COPY --from=build --chown=node:node /app/src/infra/redis/lua ./src/infra/redis/lua
COPY --from=build --chown=node:node /app/console ./console
COPY --from=build --chown=node:node /app/salesforce/force-app ./salesforce/force-app
# The node user (uid 1000) of the official image: the connector needs no root.
USER node
EXPOSE 8080
# Ready, not just alive: the transport, the control store and the pipeline answer (/readyz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]

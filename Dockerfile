# syntax=docker/dockerfile:1.7
# entitlement-gate control plane image (the CLI; `serve` by default).
#   docker build -t entitlement-gate:dev .
#   docker run --rm -p 9000:9000 -p 8081:8081 -p 8080:8080 entitlement-gate:dev
# Ports: 9000 FilterSync (SYNC_PORT), 8081 Stigg Sidecar API + ext_authz (GRPC_PORT; moved off Stigg's
# default 80 so the process needs no privilege to bind it), 8080 /livez /readyz /metrics (HTTP_PORT).
# test/packaging/dockerfile.test.ts rebuilds the runtime stage's file layout without an engine and runs it.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile the control plane (dist/) and the filter (.wasm, used by `validate`) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json asconfig.json ./
COPY control ./control
COPY filter ./filter
COPY test/host ./test/host
COPY proto ./proto
RUN npm run build:control && npx asc filter/assembly/index.ts --target release \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production node_modules, compiled JS and the files read at run time ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    GRPC_PORT=8081 \
    SYNC_PORT=9000 \
    HTTP_PORT=8080
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/entitlement_gate.wasm ./build/entitlement_gate.wasm
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
COPY control/defaults ./control/defaults
COPY control/http/status/statusPage.html ./control/http/status/statusPage.html
COPY envoy/templates ./envoy/templates
# The `node` user of the official image (uid 1000); numeric so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9000 8081 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+(process.env.HEALTH_ENDPOINT_URL||'/livez')).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (readiness false, streams ended, SHUTDOWN_GRACE_MS for in-flight calls); node runs as
# PID 1 here and handles the signals itself. --max-semi-space-size: see "Node runtime flags" in the README.
ENTRYPOINT ["node", "--max-semi-space-size=32", "bin/entitlement-gate.js"]
CMD ["serve"]

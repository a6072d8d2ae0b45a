# syntax=docker/dockerfile:1
#
# authbridge container image.
#
#   docker build -t authbridge:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only \
#     -v "$PWD/authbridge.yaml:/etc/authbridge/authbridge.yaml:ro" \
#     -v "$PWD/keys:/keys:ro" -e BROKER_SECRET=... authbridge:0.1.0
#
# Both stages use node:20-bookworm-slim: glibc (no musl surprises in
# dependencies) and the same Node major as CI and package.json "engines".
# A distroless image (gcr.io/distroless/nodejs20-debian12) is an option later;
# nothing below depends on a shell at runtime except the HEALTHCHECK, which
# only needs `node`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# build: install all dependencies, compile TypeScript, drop devDependencies
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# `npm ci` runs the root package's `prepare` script (= `npm run build`, tsc),
# so the compiler inputs have to be present before it runs.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

# Explicit build (a no-op after `prepare` thanks to tsc's incremental mode, but
# it keeps the image correct should `prepare` ever change), then remove
# devDependencies so node_modules can be copied into the runtime stage as is.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -f dist/.tsbuildinfo

# Example/default configuration shipped with the package ("files" in package.json).
COPY config/ ./config/

# ---------------------------------------------------------------------------
# runtime: no compiler, no devDependencies, no npm invocation, non-root
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="authbridge" \
      org.opencontainers.image.description="OAuth 2.0 token-endpoint proxy: client_secret_post in, the IdP's client authentication method out" \
      org.opencontainers.image.licenses="Apache-2.0"

# The base image's package managers are never used at runtime; removing them
# drops their bundled dependencies from the image (and from CVE scans).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /opt/yarn-v* /usr/local/bin/yarn /usr/local/bin/yarnpkg

ENV NODE_ENV=production \
    AUTHBRIDGE_CONFIG=/etc/authbridge/authbridge.yaml

WORKDIR /app

# Files stay owned by root and are only readable by the runtime user: the
# process cannot modify its own code. Nothing is written at runtime, so the
# container runs with a read-only root filesystem (docker --read-only,
# Kubernetes readOnlyRootFilesystem: true).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config

# The official image's `node` user (uid/gid 1000). Numeric so that Kubernetes
# `runAsNonRoot: true` can verify it without an explicit runAsUser.
USER 1000:1000

EXPOSE 8080

# No curl/wget in the slim image: use node's built-in fetch. Assumes the
# default server.port (8080) unless AUTHBRIDGE_HEALTHCHECK_URL says otherwise
# (docker run -e AUTHBRIDGE_HEALTHCHECK_URL=http://127.0.0.1:9000/healthz);
# Kubernetes ignores HEALTHCHECK and uses the chart's probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.AUTHBRIDGE_HEALTHCHECK_URL||'http://127.0.0.1:8080/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# --max-semi-space-size=8: V8's young generation grows to 8 MiB per semi-space, not the 32 it takes on a big host;
# it keeps a busy proxy's RSS near 128 MiB instead of ~180 (npm run bench -- --memory), for no measurable CPU.
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/dist/main.js"]
CMD ["start"]

# syntax=docker/dockerfile:1
#
# One image for the three programs, built once:
#   docker run IMAGE                                   the worker (default command)
#   docker run IMAGE node dist/relay/main.js           the webhook relay (port 8787)
#   docker run IMAGE deployctl doctor                  deployctl, on PATH
# The config is read from /etc/gitops-deployer/deploy.config.yaml (mount it read-only); secrets only from the
# environment. Build with provenance:
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" -t gitops-deployer .

# Node 22 LTS pinned by full version (the newest 22.x when written: `npm view node@22 version`). Debian, not
# Alpine: the Temporal SDK's native core ships glibc builds only.
FROM node:22.23.3-bookworm-slim AS base

# ---- build: dev dependencies, compile, bundle the workflows, then keep production dependencies only ----
FROM base AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
# The dependency layer is reused until the lockfile changes; the cache mount keeps downloads between builds.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The workflow bundle is built here so the worker starts without webpack (it loads $WORKFLOW_BUNDLE).
RUN npm run build \
 && node dist/worker/bundle.js /app/dist/workflow-bundle.js \
 && npm prune --omit=dev \
 && chmod 0755 dist/cli/deployctl.js
# The SDK's native core ships prebuilt for five platforms (about 140 MB); keep the one this image runs on, as the
# SDK itself names it, and prove it still loads.
RUN bridge=node_modules/@temporalio/core-bridge \
 && keep="$(node -p "require('./$bridge/common.js').getPrebuiltTargetName()")" \
 && find "$bridge/releases" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
 && rm -rf "$bridge/sdk-core" \
 && node -e "require('@temporalio/core-bridge')"

# ---- runtime ----
FROM base AS runtime
# git for the deploy repository's clone, CA certificates for HTTPS, and tini as PID 1: it reaps the git processes
# that exit after their parent and forwards SIGTERM to Node, so the worker drains (no -g: a signal to the whole
# group would kill a git push the drain is waiting for). Debian versions are not pinned: bookworm's security
# updates replace them, and a pin would break the build at the next one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git tini \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    DEPLOY_CONFIG=/etc/gitops-deployer/deploy.config.yaml \
    HOME=/tmp \
    HEALTH_ADDRESS=0.0.0.0:8080 \
    METRICS_ADDRESS=0.0.0.0:9464

WORKDIR /app
# Owned by root and read-only to the process: the app cannot be changed at run time.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The git cache (set git.cacheDir to it) belongs to the process; a volume mounted there starts with this owner.
RUN ln -s /app/dist/cli/deployctl.js /usr/local/bin/deployctl \
 && install -d -m 0755 /etc/gitops-deployer \
 && install -d -m 0700 -o node -g node /var/cache/gitops-deployer

# uid 1000 is the base image's `node` user; numeric, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# Worker health (/healthz, /readyz), worker metrics (/metrics), relay (/webhooks/github, /healthz).
EXPOSE 8080 9464 8787

# The worker's liveness, with node itself (a slim image has no curl), on the port of $HEALTH_ADDRESS. The relay
# serves no such port: run it with its own check (GET :8787/healthz), as docker-compose.yml does.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.HEALTH_ADDRESS || '').split(':').pop(); require('node:http').get({ host: '127.0.0.1', port, path: '/healthz', timeout: 4000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('timeout', () => process.exit(1)).on('error', () => process.exit(1));"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/worker/main.js"]

# Last, so a new revision changes no layer above.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="gitops-deployer" \
      org.opencontainers.image.description="Durable GitOps deployments on Temporal: worker, webhook relay and deployctl" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:22.23.3-bookworm-slim"

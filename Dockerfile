# The berth image: Node.js, berth, the docker CLI and the compose v2 plugin, all from Debian
# trixie's packages (berth needs Node.js >= 20: bookworm's is 18, trixie's is 20, and trixie
# also packages docker-cli and docker-compose 2.26). It drives the host's engine through
# /var/run/docker.sock; run it with manifests/berth-compose.yaml (see the README).
#
# Build (uses nothing BuildKit-only; tested with the classic builder, as engine 20.10 without
# buildx has no other):
#   bash scripts/build-image.sh                 # base image, host CA, then this; tag berth:latest
#   docker build --build-arg BASE=debian:trixie-slim -t berth .    # where images can be pulled
#
# BASE: the Debian trixie image to build on. The default is the one scripts/build-base-image.sh
# makes locally with debootstrap (no base image can be pulled on the machines berth is tested
# on); debian:trixie or debian:trixie-slim from a registry works the same.
ARG BASE=berth-test/debian:trixie
# CA_IMAGE: an image holding /etc/ssl/certs/ca-certificates.crt, used by `npm ci` in the build
# stage only, for networks that reach the npm registry through a TLS-inspecting proxy.
# scripts/build-image.sh makes one from the host's bundle. The default adds nothing (node's
# own CA list). Never copied into the final image.
ARG CA_IMAGE=no-extra-ca

FROM ${BASE} AS no-extra-ca
RUN mkdir -p /etc/ssl/certs

FROM ${CA_IMAGE} AS ca

# ---------------------------------------------------------------- build: npm ci + tsc
FROM ${BASE} AS build
# scripts/build-image.sh tags this stage (the build cache) and tidies away older ones by it.
LABEL org.berth.build-stage=1
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY --from=ca /etc/ssl/certs/ /tmp/build-ca/
COPY package.json package-lock.json ./
RUN if [ -s /tmp/build-ca/ca-certificates.crt ]; then export npm_config_cafile=/tmp/build-ca/ca-certificates.crt; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json ./
COPY src ./src
# Only src/ is in the build context (.dockerignore), so tsc compiles just berth itself; then
# the dev dependencies (typescript, types) go.
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn \
 && chmod 0755 dist/src/cli/main.js dist/src/cli/healthcheck.js

# ---------------------------------------------------------------- runtime
FROM ${BASE}
LABEL org.berth.image=1 \
      org.opencontainers.image.title=berth \
      org.opencontainers.image.description="An update operator for Docker Compose deployments"
# ca-certificates: berth itself talks HTTPS to registries and release channels.
# tini: PID 1 that forwards SIGTERM to berth and reaps what compose leaves behind.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends \
      nodejs docker-cli docker-compose ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && docker compose version >/dev/null
# A fixed uid/gid, so a host folder (manifests, state) can be given to it by number. The
# docker socket's group is added at run time (group_add in manifests/berth-compose.yaml).
RUN groupadd --system --gid 10001 berth \
 && useradd --system --uid 10001 --gid berth --home-dir /home/berth --shell /usr/sbin/nologin berth \
 && mkdir -p /home/berth /var/lib/berth /etc/berth/manifests \
 && chown berth:berth /home/berth /var/lib/berth \
 && chmod 0700 /var/lib/berth
WORKDIR /opt/berth
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
RUN ln -s /opt/berth/dist/src/cli/main.js /usr/local/bin/berth
ENV NODE_ENV=production \
    BERTH_MANIFESTS=/etc/berth/manifests \
    BERTH_STATE=/var/lib/berth \
    BERTH_HTTP=127.0.0.1:8420
# BERTH_HTTP is where the console (and /healthz) listens; the HEALTHCHECK reads it too.
# Loopback by default: with host networking (manifests/berth-compose.yaml) that is the
# host's own 127.0.0.1, so the console needs no token. To publish a port from a bridge network
# instead, berth must bind 0.0.0.0, and berth refuses a non-loopback bind without a token:
# set BERTH_HTTP=0.0.0.0:8420 and BERTH_HTTP_TOKEN, and publish on 127.0.0.1 only.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/opt/berth/dist/src/cli/healthcheck.js"]
USER berth
ENTRYPOINT ["tini", "--", "berth"]
CMD ["run"]

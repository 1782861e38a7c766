# The berth image: Node.js, berth, and the compose v2 binary (standalone, no docker CLI
# needed). It drives the host's engine through /var/run/docker.sock; see
# manifests/berth-compose.yaml. Build: docker build -t berth .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts

# Compose v2 comes from Debian trixie's docker-compose package, fetched with apt into a
# private folder so the image's own sources stay on bookworm.
FROM debian:bookworm-slim AS compose
RUN set -eu; d=/tmp/trixie; mkdir -p $d/lists/partial $d/cache/archives/partial; \
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > $d/trixie.sources; \
    o="-o Dir::Etc::SourceList=$d/trixie.sources -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$d/lists -o Dir::Cache=$d/cache"; \
    apt-get $o update -qq && cd $d && apt-get $o download docker-compose && dpkg -x docker-compose_*.deb x && \
    install -m 0755 x/usr/libexec/docker/cli-plugins/docker-compose /usr/local/bin/docker-compose

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/berth
COPY --from=compose /usr/local/bin/docker-compose /usr/local/bin/docker-compose
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
ENTRYPOINT ["node", "/opt/berth/dist/src/cli/main.js"]
CMD ["run", "--manifests", "/etc/berth/manifests", "--state", "/var/lib/berth"]

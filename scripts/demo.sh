#!/usr/bin/env bash
# `npm run demo`: builds the demo web image FROM scratch with the static busybox, pushes it
# to the local registry, and runs berth on manifests/demo in the foreground (Ctrl-C stops
# berth; the demo stack keeps running: `docker compose -p berth-demo-shop down` removes it).
set -euo pipefail
cd "$(dirname "$0")/.."
registry=127.0.0.1:5000
repo=$registry/berth-demo/web
version=${DEMO_VERSION:-1.0.0}

command -v docker >/dev/null || { echo "demo: no docker CLI; run (as root): bash scripts/setup-engine.sh" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "demo: the Docker engine does not answer; run (as root): bash scripts/setup-engine.sh" >&2; exit 1; }
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "demo: no busybox; run (as root): bash scripts/setup-engine.sh (installs busybox-static)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp manifests/demo/shop/image/Dockerfile "$ctx/"
cp "$busybox" "$ctx/busybox"
printf '<h1>berth demo shop %s</h1>\n' "$version" > "$ctx/index.html"
echo "demo: building $repo:$version"
DOCKER_BUILDKIT=0 docker build -q -t "$repo:$version" "$ctx" >/dev/null
docker push -q "$repo:$version" >/dev/null
digest=$(docker image inspect "$repo:$version" --format '{{range .RepoDigests}}{{println .}}{{end}}' | grep "^$repo@" | head -n1)
cat <<MSG
demo: pushed $digest
demo: berth now converges manifests/demo; in another terminal try
        node dist/src/cli/main.js get --state .berth/demo-state
        node dist/src/cli/main.js describe berth-demo-shop --state .berth/demo-state
        curl http://127.0.0.1:8088/
      then pin the image by digest in manifests/demo/shop.yaml:
        images:
          web: $digest
MSG
exec node dist/src/cli/main.js run --manifests manifests/demo --state .berth/demo-state

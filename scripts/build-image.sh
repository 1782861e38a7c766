#!/usr/bin/env bash
# Build the berth image from this checkout, on the locally made Debian base image.
#
#   bash scripts/build-image.sh [TAG]     # TAG defaults to berth:latest; extra `docker build`
#                                         # arguments can follow: ... berth:dev --no-cache
#
# 1. scripts/build-base-image.sh trixie   (cached; debootstrap the first time, ~1-2 min)
# 2. the host's CA bundle as a tiny image, so `npm ci` inside the build trusts what this host
#    trusts (a TLS-inspecting proxy's CA, for one). It is used by the build stage only and is
#    not in the berth image. BERTH_BUILD_CA=none skips it; BERTH_BUILD_CA=FILE uses FILE.
# 3. docker build with BASE and CA_IMAGE set. The classic builder is used: the engine here
#    is 20.10 and its CLI has no buildx; the Dockerfile needs nothing BuildKit-only, so
#    DOCKER_BUILDKIT=1 works too where buildx is installed.
set -euo pipefail

say() { printf 'build-image: %s\n' "$*" >&2; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

tag=${1:-berth:latest}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}

base=$(bash "$here/build-base-image.sh" trixie | tail -n 1) || die "the base image could not be built; output above"

ca_args=()
ca_file=${BERTH_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
if [ "$ca_file" != none ] && [ -s "$ca_file" ]; then
  ca_image=berth-build/host-ca:$(sha256sum "$ca_file" | cut -c1-16)
  if ! docker image inspect "$ca_image" >/dev/null 2>&1; then
    d=$(mktemp -d)
    trap 'rm -rf "$d"' EXIT
    cp "$ca_file" "$d/ca-certificates.crt"
    printf 'FROM scratch\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' >"$d/Dockerfile"
    out=$(docker build -q --label org.berth.build=host-ca -t "$ca_image" "$d" 2>&1) \
      || { printf '%s\n' "$out" >&2; die "could not make $ca_image from $ca_file"; }
    rm -rf "$d"
    trap - EXIT
  fi
  ca_args=(--build-arg "CA_IMAGE=$ca_image")
elif [ "$ca_file" != none ]; then
  die "BERTH_BUILD_CA=$ca_file is not a readable, non-empty CA bundle (BERTH_BUILD_CA=none builds with node's own CA list)"
fi

started=$(date +%s)
say "building $tag on $base (first build: a few minutes for apt and npm)"
log=$(mktemp)
# The build stage gets a tag of its own: the classic builder leaves it untagged otherwise,
# and it holds the cache (apt, npm ci) the next build reuses.
stage=berth-build/stage:$(printf '%s' "$tag" | tr -c 'A-Za-z0-9_.-' '-')
# --force-rm: a failed step leaves no stopped container behind on a shared engine.
if ! { docker build --force-rm --build-arg "BASE=$base" "${ca_args[@]}" --target build -t "$stage" "$@" "$repo" \
       && docker build --force-rm --build-arg "BASE=$base" "${ca_args[@]}" -t "$tag" "$@" "$repo"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  rm -f "$log"
  die "docker build of $tag failed; output above"
fi
# What earlier builds left untagged (their build stage, the berth image this one replaced),
# unless a container still uses it; only images carrying the labels of berth's Dockerfile.
docker image prune -f --filter label=org.berth.build-stage=1 >/dev/null 2>&1 || true
docker image prune -f --filter label=org.berth.image=1 >/dev/null 2>&1 || true
context=$(sed -n 's/^Sending build context to Docker daemon *//p' "$log" | tail -n 1)
rm -f "$log"
size=$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')
say "built $tag in $(( $(date +%s) - started ))s (${size}${context:+, build context $context})"
printf '%s\n' "$tag"

#!/usr/bin/env bash
# Build a minimal Debian base image locally and load it into the engine as
# berth-test/debian:<suite> (default suite: trixie).
#
#   bash scripts/build-base-image.sh [SUITE]     # prints the image reference on stdout
#
# No base image can be pulled on the machines berth is tested on, so this makes one the way
# Debian's own images are made: `debootstrap --variant=minbase` from the Debian mirror this
# system already uses, then `docker import`. The berth image (Dockerfile) builds on it, and so
# can test images that need real Debian packages (nginx, PostgreSQL, ...).
#
# Why trixie for berth: berth needs Node.js >= 20. bookworm's nodejs is 18; trixie's is 20,
# and trixie also packages the docker CLI (docker-cli) and the compose v2 plugin
# (docker-compose 2.26), so the berth image comes entirely from one Debian release.
#
# Cached: the image carries a label with a hash of this script, the suite and the mirror; when
# an image with that label is present nothing is built. Concurrent runs (tests in parallel)
# wait for each other on a lock instead of bootstrapping twice.
#
# Environment: BERTH_DEBIAN_MIRROR, BERTH_DEBIAN_SECURITY_MIRROR override the mirrors;
# BERTH_BASE_IMAGE_REBUILD=1 rebuilds even when the cached image is current.
set -euo pipefail

readonly SUITE=${1:-trixie}
readonly REPO=berth-test/debian
readonly IMAGE=$REPO:$SUITE
readonly KEY_LABEL=org.berth.base-image.key
readonly LOCK=/tmp/berth-base-image-$SUITE.lock

say() { printf 'build-base-image: %s\n' "$*" >&2; }
die() { printf 'build-base-image: error: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/debian-mirror.sh
. "$here/lib/debian-mirror.sh"

case $SUITE in
  *[!a-z0-9-]* | '') die "suite '$SUITE' is not a Debian suite name (e.g. trixie, bookworm)" ;;
esac
command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH; run: sudo bash scripts/setup-engine.sh"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers; run: sudo bash scripts/setup-engine.sh"

mirror=$(debian_mirror)
security=$(debian_security_mirror)
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
key=$( { cat "$0" "$here/lib/debian-mirror.sh"; printf '%s\n' "$SUITE" "$arch" "$mirror" "$security"; } \
  | sha256sum | cut -c1-16)

current_key() {
  docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$IMAGE" 2>/dev/null || true
}

cached() { [ -z "${BERTH_BASE_IMAGE_REBUILD:-}" ] && [ "$(current_key)" = "$key" ]; }

if cached; then
  printf '%s\n' "$IMAGE"
  exit 0
fi

exec 9>"$LOCK"
flock 9
# Another run may have built it while this one waited for the lock.
if cached; then
  printf '%s\n' "$IMAGE"
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed; run: sudo bash scripts/setup-engine.sh (its setup.d/10-debootstrap.sh installs it)"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run: sudo bash $0 $SUITE"
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] || die "this debootstrap does not know suite '$SUITE' (no /usr/share/debootstrap/scripts/$SUITE)"

# Not /tmp: that may be a small tmpfs, and the root file system is a few hundred MB.
root=$(mktemp -d /var/tmp/berth-base-image.XXXXXX)
cleanup() {
  # A failed debootstrap can leave /proc or /sys mounted inside the tree; never rm through them.
  local m
  for m in proc sys dev/pts; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

started=$(date +%s)
say "debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
log=$root.log
if ! debootstrap --variant=minbase --arch="$arch" "$SUITE" "$root" "$mirror" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  rm -f "$log"
  die "debootstrap $SUITE from $mirror failed; output above"
fi
rm -f "$log"

# What Debian's official images do to stay small and suited to containers: no recommends,
# no documentation or translations from later installs, no package cache kept.
cat >"$root/etc/apt/apt.conf.d/90berth-container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
cat >"$root/etc/dpkg/dpkg.cfg.d/90berth-container" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
# Sources: the same mirrors as the host, with updates and security for the suite. Unstable
# has neither.
rm -f "$root/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s' "$mirror" "$SUITE"
  [ "$SUITE" = sid ] || [ "$SUITE" = unstable ] || printf ' %s-updates' "$SUITE"
  printf '\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
  if [ "$SUITE" != sid ] && [ "$SUITE" != unstable ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$security" "$SUITE"
  fi
} >"$root/etc/apt/sources.list.d/debian.sources"
# Documentation goes, but each package's copyright file stays (its licence says so).
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/* "$root"/tmp/*
# The engine supplies these per container.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"

say "importing as $IMAGE"
tar -C "$root" --numeric-owner --xattrs -c . \
  | docker import \
      --change "LABEL $KEY_LABEL=$key" \
      --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase, built locally by berth's scripts/build-base-image.sh\"" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["bash"]' \
      - "$IMAGE" >/dev/null \
  || die "docker import of the $SUITE tree as $IMAGE failed"

[ "$(current_key)" = "$key" ] || die "$IMAGE was imported but does not carry $KEY_LABEL=$key"
say "built $IMAGE in $(( $(date +%s) - started ))s ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
printf '%s\n' "$IMAGE"

#!/usr/bin/env bash
# Prepare this machine for berth's integration tests:
#   - Debian packages docker.io, docker-registry and busybox-static
#   - the Docker Compose v2 CLI plugin (from Debian trixie's docker-compose package)
#   - a running Docker engine (dockerd)
#   - a throwaway registry on 127.0.0.1:5000
#
# Idempotent: anything already present or running is left alone. Quiet on success
# apart from one line per action taken and a final line with the versions in use.
# Everything is downloaded through apt from the Debian mirror this system already uses.
set -euo pipefail

readonly REGISTRY_ADDR=127.0.0.1:5000
readonly REGISTRY_DIR=/var/lib/berth-test-registry
readonly REGISTRY_CONFIG=$REGISTRY_DIR/config.yml
readonly REGISTRY_LOG=/var/log/berth-test-registry.log
readonly DOCKERD_LOG=/var/log/berth-dockerd.log
readonly COMPOSE_PLUGIN_DIR=/usr/libexec/docker/cli-plugins
readonly DOCKERD_WAIT_SECONDS=60
readonly REGISTRY_WAIT_SECONDS=20

export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup-engine: %s\n' "$*"; }
die() { printf 'setup-engine: error: %s\n' "$*" >&2; exit 1; }

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    die "$1 needs root; run it with sudo: sudo bash scripts/setup-engine.sh"
  fi
}

# Run a command with its output captured; show the output only if it fails.
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | tail -n 40 >&2
    die "command failed: $*"
  fi
}

engine_up() { timeout 20 docker info >/dev/null 2>&1; }
compose_ok() { timeout 20 docker compose version >/dev/null 2>&1; }

# Print the HTTP status of GET http://$REGISTRY_ADDR/v2/ ("000" if nothing answers).
registry_status() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" || true
    return 0
  fi
  # No curl (it is not a dependency of anything installed here): speak HTTP/1.0 by hand.
  local line
  line=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf "GET /v2/ HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
    head -n 1 <&3' _ "$REGISTRY_ADDR" 2>/dev/null) || line=
  line=${line#HTTP/* }
  line=${line%% *}
  printf '%s' "${line:-000}"
}

busybox_is_static() {
  # ldd exits non-zero ("not a dynamic executable") for a static binary.
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1
}

# debian_mirror: the Debian mirror this system already uses (shared with build-base-image.sh).
# shellcheck source=lib/debian-mirror.sh
source "$(dirname "$0")/lib/debian-mirror.sh"

# ---------------------------------------------------------------- packages
install_packages() {
  local -a missing=()
  if ! command -v docker >/dev/null 2>&1 || { ! command -v dockerd >/dev/null 2>&1 && ! engine_up; }; then
    missing+=(docker.io)
  fi
  if ! command -v docker-registry >/dev/null 2>&1 && [ "$(registry_status)" != 200 ]; then
    missing+=(docker-registry)
  fi
  if ! busybox_is_static; then
    missing+=(busybox-static)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0

  require_root "installing ${missing[*]}"
  say "installing ${missing[*]} (apt-get)"

  # docker-registry's package would start its own service (default config: htpasswd auth on
  # :5000) and take the port this script needs; without systemd (containers, CI) the services'
  # init scripts are unreliable and this script starts dockerd itself. So, unless the system
  # already has a policy-rc.d deciding such things, forbid service starts while installing:
  # all of them without systemd, only docker-registry's with it.
  local policy=/usr/sbin/policy-rc.d policy_added= deny='*'
  [ -d /run/systemd/system ] && deny=docker-registry
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\ncase "$1" in %s) exit 101 ;; esac\nexit 0\n' "$deny" >"$policy"
    chmod 755 "$policy"
    policy_added=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  quietly apt-get -q update
  quietly apt-get -q install -y --no-install-recommends "${missing[@]}"
  if [ -n "$policy_added" ]; then
    rm -f "$policy"
    trap - EXIT
  fi

  busybox_is_static || die "/bin/busybox is still not a static binary after installing busybox-static"
}

# ---------------------------------------------------------------- compose v2 plugin
install_compose() {
  compose_ok && return 0
  require_root "installing the docker compose v2 plugin"
  say "installing the docker compose v2 plugin (docker-compose from Debian trixie)"

  local d mirror opts deb
  d=$(mktemp -d)
  trap "rm -rf '$d'" EXIT
  # apt's download sandbox (user _apt) must be able to enter the directory.
  chmod 755 "$d"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  mirror=$(debian_mirror)
  cat >"$d/trixie.sources" <<EOF
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # A private apt configuration: the system's sources and package lists are not touched.
  opts=(-o "Dir::Etc::SourceList=$d/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
  quietly apt-get -q "${opts[@]}" update
  (cd "$d" && quietly apt-get -q "${opts[@]}" download docker-compose)
  deb=$(find "$d" -maxdepth 1 -name 'docker-compose_*.deb' | head -n 1)
  [ -n "$deb" ] || die "apt-get download docker-compose produced no .deb in $d"
  dpkg -x "$deb" "$d/x"
  [ -f "$d/x/usr/libexec/docker/cli-plugins/docker-compose" ] \
    || die "$(basename "$deb") has no usr/libexec/docker/cli-plugins/docker-compose"
  mkdir -p "$COMPOSE_PLUGIN_DIR"
  install -m 0755 "$d/x/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_PLUGIN_DIR/docker-compose"
  rm -rf "$d"
  trap - EXIT

  compose_ok || die "docker compose version still fails after installing $COMPOSE_PLUGIN_DIR/docker-compose"
}

# ---------------------------------------------------------------- dockerd
dockerd_pid() {
  local pid
  [ -r /var/run/docker.pid ] || return 1
  pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] && printf '%s' "$pid"
}

start_engine() {
  engine_up && return 0
  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != unix:///var/run/docker.sock ]; then
    die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST (this script only starts a local dockerd; unset DOCKER_HOST to use it)"
  fi

  if [ -S /var/run/docker.sock ] && ! [ -w /var/run/docker.sock ] && dockerd_pid >/dev/null; then
    die "dockerd is running but $(id -un) cannot use /var/run/docker.sock; run with sudo (or join the docker group)"
  fi

  local pid
  if pid=$(dockerd_pid); then
    say "dockerd (pid $pid) is running but not answering yet; waiting"
  else
    require_root "starting dockerd"
    say "starting dockerd (log: $DOCKERD_LOG)"
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
  fi

  local i
  for ((i = 0; i < DOCKERD_WAIT_SECONDS; i++)); do
    engine_up && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
      die "dockerd (pid $pid) exited before answering; log tail above ($DOCKERD_LOG)"
    fi
    sleep 1
  done
  tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
  die "dockerd did not answer 'docker info' within ${DOCKERD_WAIT_SECONDS}s; log tail above ($DOCKERD_LOG)"
}

# ---------------------------------------------------------------- registry
start_registry() {
  local status
  status=$(registry_status)
  [ "$status" = 200 ] && return 0
  if [ "$status" != 000 ]; then
    die "something else answers on $REGISTRY_ADDR (GET /v2/ gave HTTP $status, expected 200 from an open registry); stop it (for Debian's own service: service docker-registry stop) and rerun"
  fi

  require_root "starting the test registry"
  say "starting docker-registry on $REGISTRY_ADDR (storage: $REGISTRY_DIR/data, log: $REGISTRY_LOG)"
  mkdir -p "$REGISTRY_DIR/data"
  cat >"$REGISTRY_CONFIG" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  setsid nohup docker-registry serve "$REGISTRY_CONFIG" >>"$REGISTRY_LOG" 2>&1 </dev/null &
  local pid=$! i
  for ((i = 0; i < REGISTRY_WAIT_SECONDS; i++)); do
    [ "$(registry_status)" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$REGISTRY_LOG" >&2 2>/dev/null || true
      die "docker-registry (pid $pid) exited before answering; log tail above ($REGISTRY_LOG)"
    fi
    sleep 1
  done
  tail -n 30 "$REGISTRY_LOG" >&2 2>/dev/null || true
  die "docker-registry did not answer GET http://$REGISTRY_ADDR/v2/ within ${REGISTRY_WAIT_SECONDS}s; log tail above ($REGISTRY_LOG)"
}

install_packages
install_compose
start_engine
start_registry

# The other real peers some tests drive (a browser, Prometheus, a locally built Debian base
# image) each have a script of their own here, run in name order with the same rules.
for extra in "$(dirname "$0")"/setup.d/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra" || die "$extra failed; its output is above"
done

engine=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown)
compose=$(docker compose version --short 2>/dev/null || echo unknown)
say "ready: engine $engine, compose $compose, registry $REGISTRY_ADDR"

#!/usr/bin/env bash
# Prometheus for the metrics test (test/integration/metrics.test.ts): Debian's `prometheus`
# package, installed only. The test starts its own prometheus on a free loopback port with a
# throwaway storage folder and stops it after, so the packaged system service must not run:
# it would hold :9090 and scrape nothing of ours.
# Idempotent and quiet on success; needs root (apt) the first time.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup.d/prometheus: %s\n' "$*"; }
die() { printf 'setup.d/prometheus: error: %s\n' "$*" >&2; exit 1; }

if command -v prometheus >/dev/null 2>&1 && prometheus --version >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "prometheus is not installed and installing it needs root; run: sudo bash scripts/setup-engine.sh"

# Keep the package's postinst from starting the service (invoke-rc.d honours policy-rc.d);
# only a policy file this script made is removed again.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | tail -n 40 >&2
    die "command failed: $*"
  fi
}

# Other setup scripts may run apt at the same time: wait for the dpkg lock instead of failing.
quietly apt-get -o DPkg::Lock::Timeout=600 update
quietly apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus

# Under systemd the unit may be enabled (and started) regardless of policy-rc.d: turn it off.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

prometheus --version >/dev/null 2>&1 || die "prometheus was installed but does not run: $(prometheus --version 2>&1 | head -n 3)"
say "installed $(prometheus --version 2>&1 | head -n 1)"

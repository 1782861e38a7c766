#!/usr/bin/env bash
# Debian's chromium for the web console's browser test (test/e2e/console.test.ts), driven by
# playwright-core through executablePath: no tool ever downloads a browser of its own.
# Idempotent: does nothing when /usr/bin/chromium already runs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup.d/chromium: %s\n' "$*"; }
die() { printf 'setup.d/chromium: error: %s\n' "$*" >&2; exit 1; }

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --headless --no-sandbox --version >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "installing chromium needs root; run: sudo bash scripts/setup-engine.sh"

# Several setups may share a machine: wait for apt's lock instead of failing on it.
out=$(apt-get -o DPkg::Lock::Timeout=600 update -qq 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get update failed"; }
out=$(apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core 2>&1) \
  || { printf '%s\n' "$out" | tail -n 40 >&2; die "apt-get install chromium failed (output above)"; }
/usr/bin/chromium --headless --no-sandbox --version >/dev/null 2>&1 \
  || die "chromium was installed but /usr/bin/chromium --version fails; run it by hand to see why"
say "installed $(/usr/bin/chromium --version 2>/dev/null)"

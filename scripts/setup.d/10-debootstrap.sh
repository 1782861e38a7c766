#!/usr/bin/env bash
# debootstrap, which scripts/build-base-image.sh uses to make the local Debian base image
# (nothing can be pulled from a registry on these machines). Install only: the image itself
# is built, and cached, by that script when a test or a person first needs it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

die() { printf 'setup.d/10-debootstrap: error: %s\n' "$*" >&2; exit 1; }

# debootstrap checks the Release signatures with Debian's archive keyring.
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
[ ${#need[@]} -eq 0 ] && exit 0

[ "$(id -u)" -eq 0 ] || die "installing ${need[*]} needs root; run: sudo bash scripts/setup-engine.sh"
printf 'setup.d/10-debootstrap: installing %s (apt-get)\n' "${need[*]}"
# Other setup scripts may be running apt at the same moment: wait for dpkg's lock, not fail.
lock=(-o DPkg::Lock::Timeout=600)
out=$( { apt-get -q "${lock[@]}" update && apt-get -q "${lock[@]}" install -y --no-install-recommends "${need[@]}"; } 2>&1 ) || {
  printf '%s\n' "$out" | tail -n 40 >&2
  die "apt-get install ${need[*]} failed; output above"
}
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is still not on PATH after installing it"

# shellcheck shell=bash
# The Debian mirrors this system already uses, so images built here fetch packages from the
# same place the host does (the same rule as setup-engine.sh's debian_mirror).

# The main archive: deb822 sources first, then sources.list; BERTH_DEBIAN_MIRROR wins.
debian_mirror() {
  local uri=${BERTH_DEBIAN_MIRROR:-}
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } else break } }' \
      /etc/apt/sources.list)
  fi
  printf '%s' "${uri:-http://deb.debian.org/debian}"
}

# The security archive, found the same way; BERTH_DEBIAN_SECURITY_MIRROR wins.
debian_security_mirror() {
  local uri=${BERTH_DEBIAN_SECURITY_MIRROR:-}
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*security/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  printf '%s' "${uri:-http://deb.debian.org/debian-security}"
}

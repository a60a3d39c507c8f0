#!/usr/bin/env bash
# Sets up a development machine (Debian 12 or the CI image): the Debian packages the PHP tests
# need, then the npm dependencies (sqlite3's binding builds from source) and the AGI build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in php-cli php-xml php-mbstring phpunit gettext; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install as root: apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
node scripts/build.mjs

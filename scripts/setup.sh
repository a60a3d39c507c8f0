#!/usr/bin/env bash
# Sets up a development machine (Debian 12 or the CI image): the Debian packages the PHP tests
# and the platform tests need, the npm dependencies (sqlite3's binding builds from source), the
# shipped SQLite bindings (built once in a Debian 11 root, cached in ~/.cache/itd-bitrix), Debian's
# own Node for the platform tests (.tmp/runtimes/) and the AGI build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in php-cli php-xml php-mbstring phpunit gettext; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# debootstrap: the Debian 11 root the bindings are built in; qemu-user: arm64/armhf Node in the
# platform tests; binutils: readelf, which inspects the shipped bindings. Without recommends, so
# that no binfmt handler is registered on the machine.
bare=()
for pkg in debootstrap qemu-user binutils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || bare+=("$pkg")
done
if [ "$((${#need[@]} + ${#bare[@]}))" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install as root: apt-get install ${need[*]} ${bare[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  if [ "${#need[@]}" -gt 0 ]; then apt-get install -y -q "${need[@]}" >/dev/null; fi
  if [ "${#bare[@]}" -gt 0 ]; then apt-get install -y -q --no-install-recommends "${bare[@]}" >/dev/null; fi
fi
npm ci --no-audit --no-fund
bash scripts/build-sqlite3.sh >/dev/null
for runtime in "bookworm arm64" "bookworm armhf" "bullseye amd64" "bullseye arm64"; do
  bash scripts/debian-runtime.sh $runtime >/dev/null
done
node scripts/build.mjs

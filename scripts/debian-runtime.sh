#!/usr/bin/env bash
# Unpacks a Debian release's own Node.js, with every library it needs (glibc included), for
# another architecture or an older release than this machine's, and prints the path of a `node`
# wrapper that runs it: through qemu-user for a foreign architecture, through the release's own
# dynamic loader otherwise. test/dist loads the shipped bindings with these:
#   bash scripts/debian-runtime.sh bookworm arm64    # Debian 12 arm64: Node 18, glibc 2.36
#   bash scripts/debian-runtime.sh bullseye amd64    # Debian 11: Node 12, glibc 2.31
#   bash scripts/debian-runtime.sh bullseye arm64    # Debian 11 arm64: Node 12, glibc 2.31
#   bash scripts/debian-runtime.sh bookworm armhf    # Debian 12 32-bit ARM: an unsupported host
# Packages come from the Debian mirror through a private apt configuration under .tmp/: the
# machine's own apt sources and dpkg architectures are not touched. Needs apt-get and dpkg;
# qemu-user (qemu-aarch64, qemu-arm) for ARM on x86-64.
set -euo pipefail
suite="${1:?usage: debian-runtime.sh <suite> <arch>}"
arch="${2:?usage: debian-runtime.sh <suite> <arch>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
MIRROR="${ITD_BITRIX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
dest="$root/.tmp/runtimes/$suite-$arch"
wrapper="$dest/node"

if [ -x "$wrapper" ] && "$wrapper" -e 0 >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

case "$arch" in
  amd64) triplet=x86_64-linux-gnu; loader=lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; qemu_arch=x86_64 ;;
  arm64) triplet=aarch64-linux-gnu; loader=lib/ld-linux-aarch64.so.1; qemu_arch=aarch64 ;;
  armhf) triplet=arm-linux-gnueabihf; loader=lib/ld-linux-armhf.so.3; qemu_arch=arm ;;
  *) echo "debian-runtime: architecture $arch is not handled" >&2; exit 2 ;;
esac
host_arch="$(dpkg --print-architecture)"
if [ "$arch" != "$host_arch" ]; then
  qemu="$(command -v "qemu-$qemu_arch" || command -v "qemu-$qemu_arch-static" || true)"
  [ -n "$qemu" ] || { echo "debian-runtime: qemu-$qemu_arch not found (apt-get install qemu-user)" >&2; exit 1; }
fi

rm -rf "$dest"
apt="$dest/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/preferences.d" "$apt/etc/sources.list.d" "$dest/root"
: >"$apt/status"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" >"$apt/etc/sources.list"
opts=(
  -o "Dir::State::status=$apt/status" -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Dir::Cache::archives=$apt/archives"
  -o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
  -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Debug::NoLocking=1" -q
)
apt-get "${opts[@]}" update >&2
# From an empty package database apt lists the whole closure: Node and every library below it.
apt-get "${opts[@]}" -y --no-install-recommends --download-only install nodejs >&2
for deb in "$apt"/archives/*.deb; do dpkg -x "$deb" "$dest/root"; done
rm -rf "$apt"

libs="$dest/root/lib/$triplet:$dest/root/usr/lib/$triplet"
if [ "$arch" != "$host_arch" ]; then
  cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$qemu" -L "$dest/root" -E "LD_LIBRARY_PATH=$libs" "$dest/root/usr/bin/node" "\$@"
WRAP
else
  cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$dest/root/$loader" --library-path "$libs" "$dest/root/usr/bin/node" "\$@"
WRAP
fi
chmod 0755 "$wrapper"
echo "debian-runtime: $suite $arch: $("$wrapper" -p 'process.version + " " + process.arch + ", glibc " + process.report.getReport().header.glibcVersionRuntime')" >&2
echo "$wrapper"

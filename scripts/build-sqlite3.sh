#!/usr/bin/env bash
# Builds the sqlite3 N-API binding the module ships, once per architecture, and prints the
# folder that holds them:
#   itd_bitrix_sqlite3-linux-x64-glibc<floor>.node   (x86-64)
#   itd_bitrix_sqlite3-linux-arm64-glibc<floor>.node (aarch64)
#
# Both are built inside a Debian 11 root (debootstrap; gcc 10, its aarch64 cross compiler,
# Node 12's headers), so they link against glibc 2.31 instead of the development machine's;
# libstdc++ and libgcc are linked statically, and scripts/sqlite3-glibc-floor.h binds the five
# functions whose Debian 11 default versions are newer than the floor. The result is checked:
# the highest GLIBC version either binding requires must not exceed GLIBC_FLOOR.
#
# Sources: node_modules/sqlite3 and node_modules/node-addon-api (the versions package-lock.json
# pins), node-gyp from node_modules. N-API version 6, the highest sqlite3 declares, so one
# binding per architecture serves every Node from 18 on.
#
# Results are cached under $ITD_BITRIX_CACHE (default ~/.cache/itd-bitrix), keyed by the inputs;
# the Debian 11 root is kept there too. Needs root (debootstrap, chroot) the first time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
GLIBC_FLOOR="2.28"
SUITE="bullseye"
MIRROR="${ITD_BITRIX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${ITD_BITRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/itd-bitrix}"
CHROOT="$CACHE/debian11-root"
PINS="$root/scripts/sqlite3-glibc-floor.h"
SQLITE_DIR="$root/node_modules/sqlite3"
ADDON_DIR="$root/node_modules/node-addon-api"

say() { printf 'build-sqlite3: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f "$SQLITE_DIR/binding.gyp" ] || die "node_modules/sqlite3 not found: run npm ci first"
[ -f "$ADDON_DIR/package.json" ] || die "node_modules/node-addon-api not found: run npm ci first"

# The key: this script, the pins, and the packages the build uses as installed: sqlite3 (its
# sources and gyp files), node-addon-api, node-gyp and the tar that unpacks SQLite's sources.
tar_pkg="$SQLITE_DIR/node_modules/tar/package.json"
[ -f "$tar_pkg" ] || tar_pkg="$root/node_modules/tar/package.json"
key="$(cat "$0" "$PINS" "$SQLITE_DIR/package.json" "$SQLITE_DIR/binding.gyp" "$SQLITE_DIR"/deps/*.gyp* \
  "$ADDON_DIR/package.json" "$root/node_modules/node-gyp/package.json" "$tar_pkg" | sha256sum | cut -c1-16)"
OUT="$CACHE/sqlite3-$key"
names=("itd_bitrix_sqlite3-linux-x64-glibc$GLIBC_FLOOR.node" "itd_bitrix_sqlite3-linux-arm64-glibc$GLIBC_FLOOR.node")

have_all() { for n in "${names[@]}"; do [ -s "$OUT/$n" ] || return 1; done; }
if have_all; then echo "$OUT"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if have_all; then echo "$OUT"; exit 0; fi

[ "$(id -u)" = 0 ] || die "the sqlite3 bindings are not built yet and building them needs root (debootstrap, chroot): sudo bash scripts/build-sqlite3.sh"

# ---- the Debian 11 build root -----------------------------------------------------------------
if [ ! -f "$CHROOT/.itd-bitrix-ready" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
  fi
  say "creating the Debian 11 build root in $CHROOT (once; about a minute)"
  rm -rf "$CHROOT.tmp" "$CHROOT"
  debootstrap --variant=minbase \
    --include=build-essential,python3,g++-aarch64-linux-gnu,binutils-aarch64-linux-gnu,nodejs,libnode-dev \
    "$SUITE" "$CHROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap $SUITE failed; see $CACHE/debootstrap.log: $(tail -n 3 "$CACHE/debootstrap.log" | tr '\n' ' ')"
  touch "$CHROOT.tmp/.itd-bitrix-ready"
  mv "$CHROOT.tmp" "$CHROOT"
fi

# ---- stage the sources inside the root ---------------------------------------------------------
work="/build/$key"
rm -rf "$CHROOT/build"
mkdir -p "$CHROOT$work"
cp -a "$root/node_modules" "$CHROOT/build/node_modules"  # node-gyp and what it requires
cp "$PINS" "$CHROOT$work/glibc-floor.h"
for arch in x64 arm64; do
  dir="$CHROOT$work/$arch/node_modules"
  mkdir -p "$dir/sqlite3"
  cp -a "$SQLITE_DIR"/{binding.gyp,deps,src,package.json} "$dir/sqlite3/"
  # its own dependencies (the tar@6 that deps/extract.js needs runs on Debian 11's Node 12)
  if [ -d "$SQLITE_DIR/node_modules" ]; then cp -a "$SQLITE_DIR/node_modules" "$dir/sqlite3/"; fi
  # node-addon-api gets its own copy: gyp writes the makefiles of its targets into its folder
  cp -a "$ADDON_DIR" "$dir/node-addon-api"
  rm -f "$dir/node-addon-api"/*.mk "$dir/node-addon-api"/*.Makefile
done

cat >"$CHROOT$work/build.sh" <<'EOF'
set -eu
arch="$1"; work="$2"
cd "$work/$arch/node_modules/sqlite3"
strip=strip
if [ "$arch" = arm64 ]; then
  export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
  strip=aarch64-linux-gnu-strip
fi
# -O2 (SQLite's own default) after gyp's -O3: about 15 % less code to copy on every reload
export CFLAGS="-O2 -include $work/glibc-floor.h" CXXFLAGS="-O2 -include $work/glibc-floor.h"
# libdl: sqlite3 calls dlopen for extensions; without it the reference stays unversioned
export LDFLAGS="-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL -Wl,--no-as-needed -ldl"
node /build/node_modules/node-gyp/bin/node-gyp.js rebuild --arch="$arch" --nodedir=/usr --napi_build_version=6 -j 1
$strip --strip-unneeded -o "$work/$arch.node" build/Release/node_sqlite3.node
EOF

say "building for x64 and arm64 in Debian 11 (about a minute)"
started=$(date +%s)
pids=()
for arch in x64 arm64; do
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 \
    chroot "$CHROOT" sh "$work/build.sh" "$arch" "$work" >"$CACHE/build-$arch.log" 2>&1 &
  pids+=($!)
done
failed=""
for i in 0 1; do
  wait "${pids[$i]}" || failed="$failed $([ "$i" = 0 ] && echo x64 || echo arm64)"
done
for a in $failed; do
  say "--- $a build log (last lines of $CACHE/build-$a.log)"
  tail -n 25 "$CACHE/build-$a.log" >&2
done
[ -z "$failed" ] || die "build failed for:$failed"

# ---- check and publish -------------------------------------------------------------------------
rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
for arch in x64 arm64; do
  src="$CHROOT$work/$arch.node"
  name="itd_bitrix_sqlite3-linux-$arch-glibc$GLIBC_FLOOR.node"
  machine="$(readelf -h "$src" | sed -n 's/^ *Machine: *//p')"
  case "$arch:$machine" in
    x64:*X86-64*|arm64:*AArch64*) ;;
    *) die "$arch binding is built for '$machine'" ;;
  esac
  highest="$(readelf -V --wide "$src" | grep -oE 'Name: GLIBC_[0-9.]+' | sed 's/Name: GLIBC_//' | sort -V | tail -n 1)"
  [ "$(printf '%s\n%s\n' "$highest" "$GLIBC_FLOOR" | sort -V | tail -n 1)" = "$GLIBC_FLOOR" ] ||
    die "$arch binding requires GLIBC_$highest, above the floor $GLIBC_FLOOR (a symbol needs a pin in scripts/sqlite3-glibc-floor.h)"
  if readelf -V --wide "$src" | grep -qE 'Name: (GLIBCXX|CXXABI|GCC)_'; then
    die "$arch binding depends on the shared libstdc++/libgcc; they must be linked statically"
  fi
  cp "$src" "$OUT.tmp/$name"
  say "$name: $(stat -c %s "$src") bytes, highest GLIBC_$highest"
done
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
rm -rf "$CHROOT/build"
say "done in $(( $(date +%s) - started )) s"
echo "$OUT"

#!/usr/bin/env bash
# Unpacks Debian 12's own Node 18 (the FreePBX 17 runtime) beside the machine's node and prints
# the path of a wrapper that runs it. Used by .ci/run to run the AGI suite on the oldest target.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.tmp/node18"
wrapper="$dest/node"
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-cache madison nodejs | grep -q ' 18\.' || apt-get update -q >&2
apt-get install -y -q libc-ares2 libuv1 libbrotli1 libicu72 libnghttp2-14 node-acorn node-cjs-module-lexer node-undici >&2
version="$(apt-cache madison nodejs | awk '$3 ~ /^18\./ {print $3; exit}')"
[ -n "$version" ] || { echo "debian-node18: no Node 18 package in the Debian archive" >&2; exit 1; }
rm -rf "$dest" && mkdir -p "$dest/debs"
(cd "$dest/debs" && apt-get download "nodejs=$version" "libnode108=$version" >&2)
for deb in "$dest"/debs/*.deb; do dpkg -x "$deb" "$dest/root"; done
cat > "$wrapper" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH="$dest/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$dest/root/usr/bin/node" "\$@"
WRAP
chmod 0755 "$wrapper"
"$wrapper" --version >&2
echo "$wrapper"

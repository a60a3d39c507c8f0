#!/usr/bin/env bash
# Screenshot of the settings page -> docs/settings-page.png (not part of the tests).
# Needs Debian packages: php-cli, chromium, libjs-bootstrap (Bootstrap 3), fonts-font-awesome (4.x).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
php scripts/screenshot/render.php > "$work/page.html"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --allow-file-access-from-files \
  --virtual-time-budget=3000 \
  --screenshot="$PWD/docs/settings-page.png" --window-size=1280,1700 "file://$work/page.html" 2>/dev/null
echo "docs/settings-page.png written"

#!/usr/bin/env bash
# PHP checks of the FreePBX module: `php -l` on every PHP file (tracked or new, outside
# node_modules), then the PHPUnit suite in utests/. Exits non-zero on any failure.
# Needs Debian's php-cli, php-xml, php-mbstring and phpunit; the schema test also uses
# node + node_modules/ajv, the cross-language test agi-bin/itd_bitrix.js when built.
set -euo pipefail
cd "$(dirname "$0")/.."

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.php' | grep -v '^node_modules/' | sort -u)
else
  mapfile -t files < <(find . -name '*.php' -not -path './node_modules/*' -not -path './.git/*' | sed 's#^\./##' | sort)
fi

failed=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! out=$(php -l "$f" 2>&1); then
    echo "$out" >&2
    failed=1
  fi
done
echo "php -l: ${#files[@]} files checked"
if [ "$failed" -ne 0 ]; then
  echo "php -l found syntax errors" >&2
  exit 1
fi

phpunit --configuration phpunit.xml "$@"

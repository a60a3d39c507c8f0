#!/usr/bin/env bash
# Refresh i18n/bitrix.pot from the PHP sources, merge it into every translation and
# compile the .mo files. Translate new strings in the .po, then run this again.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's#.*<version>\([^<]*\)</version>.*#\1#p' module.xml | head -1)
xgettext --language=PHP --keyword=_ --from-code=UTF-8 --no-wrap --sort-by-file \
  --package-name=bitrix --package-version="$version" \
  --msgid-bugs-address=https://github.com/nnekipelov/itd-bitrix/issues \
  -o i18n/bitrix.pot *.php Dialplan/*.php views/*.php
for po in i18n/*/LC_MESSAGES/bitrix.po; do
  msgmerge --quiet --update --backup=none --no-wrap --no-fuzzy-matching "$po" i18n/bitrix.pot
  msgfmt --check --statistics -o "${po%.po}.mo" "$po"
done

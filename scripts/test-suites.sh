#!/usr/bin/env bash
# The test suites of `npm test` (after the build): mocha (TypeScript), then the PHP checks
# (scripts/test-php.sh). Both always run; the last lines say how each one ended, and the exit
# status is non-zero when either failed. Arguments go to mocha (npm test -- --grep retry).
# ITD_TEST_TS_CMD / ITD_TEST_PHP_CMD replace a suite's command (the runner's own test uses them).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${ITD_TEST_TS_CMD:-}" ]; then bash -c "$ITD_TEST_TS_CMD"; else node_modules/.bin/mocha 'test/**/*.test.ts' "$@"; fi
ts=$?
if [ -n "${ITD_TEST_PHP_CMD:-}" ]; then bash -c "$ITD_TEST_PHP_CMD"; else bash scripts/test-php.sh; fi
php=$?

verdict() { if [ "$1" -eq 0 ]; then echo passed; else echo "FAILED (exit $1)"; fi; }
echo
echo "npm test: TypeScript suite $(verdict "$ts"); PHP suite $(verdict "$php")"
[ "$ts" -eq 0 ] && [ "$php" -eq 0 ]

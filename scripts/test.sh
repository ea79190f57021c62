#!/usr/bin/env bash
# The whole test suite: every workspace's jest tests (unit and integration against real parts),
# then the browser tests. Prints one closing summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
out=.ci/out
rm -rf "$out" && mkdir -p "$out"
status=0

run_jest() { # workspace
  echo "=== jest: $1"
  (cd "$1" && node --experimental-vm-modules ../node_modules/jest/bin/jest.js --ci \
      --json --outputFile="../$out/jest-$1.json" "${@:2}") || status=1
}

npm run build --silent || { echo "build failed"; exit 1; }
run_jest schema
run_jest server --runInBand

node scripts/test-summary.js "$out" || status=1
exit $status

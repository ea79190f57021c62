#!/usr/bin/env bash
# The browser tests, from scratch: Debian's Chromium, node modules, the TypeScript build, the project
# venv with the Cellpipe extension installed, then Playwright (galata) against a fresh companion
# server and JupyterLab. Exits non-zero when anything fails. Extra arguments go to `playwright test`
# (e.g. `scripts/ui-test.sh tests/smoke.spec.ts`).
#
# Reports: .ci/out/ui-tests.json (Playwright JSON), ui-tests/test-results/ (screenshots, traces),
# ui-tests/playwright-report/ (HTML). CELLPIPE_DOCS_SCREENSHOTS=1 also refreshes docs/*.png;
# CELLPIPE_UI_NO_BUILD=1 skips `npm run build` when server/dist exists (a tree with others' edits).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# One run at a time per clone: runs share ui-tests/.work, test-results/ and the report.
exec 8>"$root/ui-tests/.ui-test.lock"
if ! flock -n 8; then
  echo "ui-test: another run holds ui-tests/.ui-test.lock; waiting for it" >&2
  flock 8
fi

start=$SECONDS
step() { echo "=== ui-test: $* (+$((SECONDS - start))s)" >&2; }

step "chromium"
bash scripts/chromium.sh

if [ ! -d node_modules/@jupyterlab/galata ] || [ ! -d node_modules/@playwright/test ]; then
  step "npm ci"
  npm ci --no-audit --no-fund
fi

if [ "${CELLPIPE_UI_NO_BUILD:-}" = 1 ] && [ -f server/dist/cli.js ]; then
  step "build skipped (CELLPIPE_UI_NO_BUILD=1): using the existing server/dist"
else
  step "build (schema, server)"
  npm run build --silent
fi

step "python env + extension"
venv=$(bash scripts/python-env.sh)
echo "venv: $venv" >&2

if [ -z "${CELLPIPE_UI_PORT:-}" ]; then
  CELLPIPE_UI_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
export CELLPIPE_UI_PORT

mkdir -p .ci/out
step "playwright (JupyterLab on port $CELLPIPE_UI_PORT)"
cd ui-tests
status=0
node ../node_modules/@playwright/test/cli.js test "$@" || status=$?
step "done (exit $status)"
exit "$status"

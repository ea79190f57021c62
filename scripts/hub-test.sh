#!/usr/bin/env bash
# The JupyterHub browser tests (ui-tests/hub/): a real JupyterHub from the project venv, with
# configurable-http-proxy (scripts/hub-env.sh) and Cellpipe as its service, two users' JupyterLab
# servers with the extension, and galata in Debian's Chromium. Extra arguments go to
# `playwright test`. Reports: .ci/out/hub-ui-tests.json, ui-tests/test-results-hub/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# One run at a time per clone: runs share ui-tests/hub/.work.
exec 8>"$root/ui-tests/.hub-test.lock"
flock 8

start=$SECONDS
bash scripts/chromium.sh
[ -f server/dist/cli.js ] || npm run build --silent
venv=$(bash scripts/python-env.sh)
bash scripts/hub-env.sh >/dev/null
mkdir -p .ci/out
cd ui-tests
status=0
PATH="$venv/bin:$PATH" node ../node_modules/@playwright/test/cli.js test -c playwright.hub.config.js "$@" || status=$?
echo "=== hub tests: exit $status after $((SECONDS - start)) s" >&2
exit "$status"

#!/usr/bin/env bash
# Cellpipe in JupyterLab, for people: sets up the project venv with the Cellpipe extension, starts the
# companion server (home ${CELLPIPE_HOME:-~/.cellpipe}) unless one is already running there, and opens
# JupyterLab on examples/quickstart.ipynb. The server this script started stops when JupyterLab stops.
#
#   scripts/lab.sh [extra `jupyter lab` arguments, e.g. --port 8899 --no-browser]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=companion-lib.sh
source "$root/scripts/companion-lib.sh"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -d node_modules/@jupyterlab ] || [ ! -d node_modules/zod ]; then
  echo "lab: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
echo "lab: building schema and server" >&2
npm run build --silent >&2
venv=$(bash scripts/python-env.sh)

export CELLPIPE_HOME="${CELLPIPE_HOME:-$HOME/.cellpipe}"
# Tasks run with the venv's Python unless told otherwise (it has nbformat/nbclient/ipykernel).
export CELLPIPE_PYTHON="${CELLPIPE_PYTHON:-$venv/bin/python}"

trap companion_stop EXIT
trap 'exit 143' TERM
if url=$(companion_live "$CELLPIPE_HOME"); then
  echo "lab: using the Cellpipe server already running at $url (home $CELLPIPE_HOME)" >&2
else
  companion_start "$root" "$CELLPIPE_HOME" "$CELLPIPE_HOME/server.log"
fi

args=(--ServerApp.root_dir="$root")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
if [ -n "$companion_pid" ]; then
  # JupyterLab replaces this shell (so Ctrl-C and signals reach it directly); a watcher stops the
  # server once that process is gone.
  (tail --pid=$$ -f /dev/null 2>/dev/null; companion_stop) &
fi
trap - EXIT TERM
exec "$venv/bin/jupyter" lab "${args[@]}" "$@" examples/quickstart.ipynb

#!/usr/bin/env bash
# ruff, pinned by scripts/requirements-lint.txt, installed on first use into a small venv of its own
# (${CELLPIPE_CACHE:-~/.cache/cellpipe}/lint-<hash>; the JupyterLab venv is not touched), then run
# with the given arguments:
#
#   scripts/ruff.sh check server/runner        scripts/ruff.sh format --check server/runner
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/scripts/requirements-lint.txt"
python=${PYTHON:-python3}
key=$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
cache=${CELLPIPE_CACHE:-$HOME/.cache/cellpipe}
venv="$cache/lint-$key"
mkdir -p "$cache"

exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/ruff" ] || [ ! -f "$venv/.cellpipe-ready" ]; then
  echo "ruff.sh: installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.cellpipe-ready"
fi
exec 9>&-
exec "$venv/bin/ruff" "$@"

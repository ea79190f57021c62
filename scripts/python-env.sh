#!/usr/bin/env bash
# The project's Python environment: a venv with JupyterLab and the notebook tooling, plus the
# Cellpipe JupyterLab extension installed into it.
#
#   scripts/python-env.sh [--no-extension]      (or CELLPIPE_NO_EXTENSION=1)
#
# The venv lives outside the clone, keyed by a hash of scripts/requirements-dev.txt and the Python
# version (${CELLPIPE_CACHE:-~/.cache/cellpipe}/venv-<hash>), so clean clones on one machine share it;
# `.venv` in the repo points at it. It is rebuilt when missing or broken, and the extension is
# reinstalled only when extension/'s sources changed. Progress goes to stderr; the last line on
# stdout is the venv path.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/scripts/requirements-dev.txt"
python=${PYTHON:-python3}
with_extension=1
[ "${CELLPIPE_NO_EXTENSION:-}" = 1 ] && with_extension=0
for arg in "$@"; do
  case "$arg" in
    --no-extension) with_extension=0 ;;
    *) echo "python-env.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "python-env: $*" >&2; }
# `jupyter ... list` output without colours (captured whole: `| grep -q` would SIGPIPE it under pipefail).
listing() { "$venv/bin/jupyter" "$@" list 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; }
lab_ext_ok() { local out; out=$(listing labextension); grep -Eq '@cellpipe/jupyterlab v[^ ]* enabled .*OK' <<<"$out"; }
server_ext_ok() { local out; out=$(listing server extension); grep -Eq 'cellpipe_jupyterlab +enabled' <<<"$out"; }

pyver=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key=$( { cat "$req"; echo "python $pyver"; } | sha256sum | cut -c1-16)
cache=${CELLPIPE_CACHE:-$HOME/.cache/cellpipe}
venv="$cache/venv-$key"
mkdir -p "$cache"

# One builder at a time per venv (ui-tests and lab.sh may start together).
exec 9>"$venv.lock"
flock 9

# Cheap check (no imports: importing jupyterlab takes seconds on a busy machine): the interpreter
# runs, every package is findable and the entry points exist.
healthy() {
  [ -f "$venv/.cellpipe-ready" ] && [ -x "$venv/bin/jupyter-lab" ] && [ -x "$venv/bin/jupyter-labextension" ] &&
    "$venv/bin/python" -c '
import importlib.util, sys
mods = ["jupyterlab", "jupyter_server", "ipykernel", "nbformat", "nbclient", "hatchling",
        "hatch_jupyter_builder", "hatch_nodejs_version"]
sys.exit(any(importlib.util.find_spec(m) is None for m in mods))' 2>/dev/null
}

if healthy; then
  log "reusing $venv"
else
  log "building $venv (python $pyver)"
  # A venv's scripts carry its absolute path, so it is built in place; the marker file is written
  # last, so an interrupted build counts as broken and is rebuilt next time.
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  date -u +%FT%TZ >"$venv/.cellpipe-ready"
  healthy || { log "venv at $venv is still broken after a rebuild"; exit 1; }
fi

# Point the repo's .venv at the shared venv (leave a real directory someone made alone).
if [ -L "$root/.venv" ] || [ ! -e "$root/.venv" ]; then
  ln -sfn "$venv" "$root/.venv"
else
  log "warning: $root/.venv is a directory, not a link; leaving it alone"
fi

if [ "$with_extension" = 1 ]; then
  ext="$root/extension"
  if [ ! -f "$ext/pyproject.toml" ]; then
    log "extension/pyproject.toml not found: skipping the extension install"
  else
    # Fingerprint of what the installed extension was built from: every tracked or new file under
    # extension/ (minus build outputs), the schema package its bundle includes, and the lock file.
    fingerprint=$(
      cd "$root" &&
        { git ls-files -co --exclude-standard -- extension schema/src schema/package.json package-lock.json 2>/dev/null | sort |
            while IFS= read -r f; do [ -f "$f" ] && sha256sum "$f"; done; } | sha256sum | cut -c1-16
    )
    stamp="$venv/.cellpipe-extension"
    # Warm path: file checks only (`jupyter ... list` takes seconds on a busy machine).
    if [ "$(cat "$stamp" 2>/dev/null)" = "$fingerprint" ] &&
      [ -f "$venv/share/jupyter/labextensions/@cellpipe/jupyterlab/package.json" ] &&
      grep -q '"cellpipe_jupyterlab": true' "$venv/etc/jupyter/jupyter_server_config.d/cellpipe_jupyterlab.json" 2>/dev/null; then
      log "extension up to date"
    else
      log "installing the extension from extension/"
      if [ ! -d "$root/node_modules/@jupyterlab" ] && [ ! -d "$ext/node_modules/@jupyterlab" ]; then
        log "node_modules lacks @jupyterlab packages: running npm ci"
        (cd "$root" && npm ci --no-audit --no-fund >&2)
      fi
      rm -f "$stamp"
      # The build hook runs `jupyter labextension build`, which must be this venv's jupyter.
      PATH="$venv/bin:$PATH" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-build-isolation --no-deps --force-reinstall "$ext" >&2
      if ! lab_ext_ok; then
        listing labextension >&2
        log "@cellpipe/jupyterlab is not listed as enabled and OK"
        exit 1
      fi
      if ! server_ext_ok; then
        listing server extension >&2
        log "the cellpipe_jupyterlab server extension is not enabled"
        exit 1
      fi
      echo "$fingerprint" >"$stamp"
      log "extension @cellpipe/jupyterlab installed and enabled"
    fi
  fi
fi

echo "$venv"

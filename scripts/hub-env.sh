#!/usr/bin/env bash
# What the JupyterHub tests need besides the project venv (which holds jupyterhub and
# jupyterhub-singleuser, see requirements-dev.txt): configurable-http-proxy from npm, installed once
# per version into ${CELLPIPE_CACHE:-~/.cache/cellpipe}/chp-<version>. Prints the proxy's path.
set -euo pipefail
version=${CHP_VERSION:-5.3.0}
cache=${CELLPIPE_CACHE:-$HOME/.cache/cellpipe}
dir="$cache/chp-$version"
bin="$dir/node_modules/.bin/configurable-http-proxy"
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [ ! -x "$bin" ] || [ ! -f "$dir/.cellpipe-ready" ]; then
  echo "hub-env: installing configurable-http-proxy@$version into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  # Its own package.json, so npm never walks up into a project's.
  echo '{"private": true}' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "configurable-http-proxy@$version" >&2
  date -u +%FT%TZ >"$dir/.cellpipe-ready"
fi
echo "$bin"

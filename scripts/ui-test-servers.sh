#!/usr/bin/env bash
# The servers the browser tests talk to (Playwright's webServer runs this, see
# ui-tests/playwright.config.js): a fresh Cellpipe companion server with its own home, and a
# galata-configured JupyterLab (with the Cellpipe extension from the project venv) whose root holds a
# copy of examples/. Both stop when this script is signalled.
#
# Expects scripts/python-env.sh and `npm run build` to have run (scripts/ui-test.sh does both).
# Env: CELLPIPE_UI_PORT (JupyterLab's port, default 8888), CELLPIPE_UI_WORK (scratch folder,
# default ui-tests/.work; wiped at start), CELLPIPE_UI_EXECUTOR (`local`, the default, or
# `kubernetes`: the server runs tasks on a Kubernetes test bed started in <work>/bed, see
# testbed/README.md, and stopped with the servers).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=companion-lib.sh
source "$root/scripts/companion-lib.sh"

venv="$root/.venv"
[ -x "$venv/bin/jupyter-lab" ] || { echo "ui-test-servers: $venv has no JupyterLab (run scripts/python-env.sh)" >&2; exit 1; }

work=${CELLPIPE_UI_WORK:-$root/ui-tests/.work}
rm -rf "$work"
mkdir -p "$work/home" "$work/root"
cp -R "$root/examples" "$work/root/examples"

# The tests' own server, never one a user configured in this shell.
unset CELLPIPE_URL CELLPIPE_TOKEN CELLPIPE_TOKENS CELLPIPE_CONFIG
export CELLPIPE_HOME="$work/home"
# Tasks run with the venv's Python (nbformat/nbclient for notebook tasks and executed notebooks).
export CELLPIPE_PYTHON="$venv/bin/python"
# Declared GPUs (no GPU here): one whole GPU and one MIG 3g.20gb slice, so the tests can see who holds
# and who waits for a device, and a request for another profile can never be satisfied.
export CELLPIPE_GPUS="gpu:1,mig-3g.20gb:1"
export PATH="$venv/bin:$PATH"
# Jupyter's runtime files and user config of this run only (a ~/.jupyter could change what is tested).
export JUPYTER_RUNTIME_DIR="$work/runtime" JUPYTER_CONFIG_DIR="$work/config"

lab_pid=""
bed=""
stop_all() {
  if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -TERM "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
  fi
  companion_stop
  if [ -n "$bed" ]; then bash "$root/scripts/k8s-testbed.sh" down "$bed" >/dev/null 2>&1 || true; fi
}
trap stop_all EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

serve_args=()
if [ "${CELLPIPE_UI_EXECUTOR:-local}" = kubernetes ]; then
  bed="$work/bed"
  kubeconfig=$(bash "$root/scripts/k8s-testbed.sh" up "$bed" | tail -n 1)
  # The bed's kwok nodes (testbed/README.md) hold the GPUs and MIG slices. Their pods run no code:
  # each stays Running for the delay below, long enough for a test to see who holds what. So no pod
  # ever calls the server, and serverUrl (which `serve` requires) is never used.
  cat >"$work/cellpipe.yaml" <<EOF
executor: kubernetes
kubernetes:
  kubeconfig: $kubeconfig
  namespace: default
  serverUrl: http://127.0.0.1:9
  annotations:
    testbed.cellpipe.io/delay: 600s
EOF
  serve_args=(--config "$work/cellpipe.yaml")
fi

companion_start "$root" "$CELLPIPE_HOME" "$work/companion.log" "${serve_args[@]}"

export JUPYTERLAB_GALATA_ROOT_DIR="$work/root"
jupyter lab --config "$root/ui-tests/jupyter_server_test_config.py" >"$work/jupyterlab.log" 2>&1 &
lab_pid=$!
echo "ui-test-servers: JupyterLab pid $lab_pid on port ${CELLPIPE_UI_PORT:-8888} (log $work/jupyterlab.log)" >&2
set +e
wait "$lab_pid"
status=$?
set -e
echo "ui-test-servers: JupyterLab exited ($status); last lines of its log:" >&2
tail -n 20 "$work/jupyterlab.log" >&2
exit "$status"

#!/usr/bin/env bash
# The whole test suite: every workspace's jest tests (unit and integration against real parts:
# SQLite files, python3 task runs, the Kubernetes test bed and its real node), then the galata tests in
# JupyterLab and Chromium. Everything these need (test bed binaries and images, the Python venv, Chromium) is built or
# installed on first use and cached under ~/.cache/cellpipe. Prints one closing summary line "N passed, N failed".
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
# The test bed's real node needs Debian packages and a Debian python3 image: mostly downloads, so
# they come in the background while lint, the venv and the schema tests use the CPUs. Where the
# machine cannot run a real node, its tests are skipped (with this reason) and nothing is built.
realnode_images=
if realnode_reason=$(bash scripts/k8s-testbed.sh real-node check); then
  (bash scripts/k8s-testbed.sh real-node build images >"$out/real-node-images.log" 2>&1) &
  realnode_images=$!
else
  echo "=== the test bed's real node is skipped: $realnode_reason"
fi
echo "=== lint"
npm run lint --silent || status=1
# ts-jest only transpiles; the test files are type-checked here (the sources by the build).
echo "=== type-check the tests"
npm run typecheck --silent || status=1
# The project venv (JupyterLab, ipykernel, nbformat, the extension) comes first: the runner's kernel
# engine tests and nbformat checks use it, and so do the browser tests.
echo "=== Python venv"
venv=$(bash scripts/python-env.sh) || { echo "python env failed"; status=1; }

run_jest schema
# Built (or found in the cache) here rather than inside a jest hook, so a cold build shows in the log.
echo "=== Kubernetes test bed binaries"
bash scripts/k8s-testbed.sh build || status=1
if [[ -n $realnode_images ]]; then
  echo "=== the test bed's real node (kubelet built after the control plane: it reuses its Go build cache)"
  wait "$realnode_images" || { echo "real node images failed:"; tail -20 "$out/real-node-images.log"; status=1; }
  bash scripts/k8s-testbed.sh real-node build || status=1
fi
# Kueue (minutes to build cold, on a Go build cache of its own client-go) builds in the background
# while the server suites run one at a time (mostly one core); its suite waits for the build when it
# gets there first. Where the machine cannot run it, its suite is skipped with this reason.
kueue_build=
if kueue_reason=$(bash scripts/k8s-testbed.sh kueue check); then
  (bash scripts/k8s-testbed.sh kueue build >"$out/kueue-build.log" 2>&1) &
  kueue_build=$!
else
  echo "=== Kueue in the test bed is skipped: $kueue_reason"
fi
# Integration suites share real processes (SQLite files, python3 tasks, the Kubernetes test bed):
# one file at a time keeps a 2-core machine from starving them.
run_jest server --runInBand
if [[ -n $kueue_build ]]; then
  wait "$kueue_build" || { echo "building Kueue failed:"; tail -20 "$out/kueue-build.log"; status=1; }
fi
run_jest extension

echo "=== browser tests (JupyterLab + Chromium)"
bash scripts/ui-test.sh || status=1
echo "=== browser tests against the Kubernetes test bed"
CELLPIPE_UI_NO_BUILD=1 bash scripts/ui-test.sh -c playwright.kubernetes.config.js || status=1

echo "=== JupyterHub browser tests (a real hub, Cellpipe as its service, two users' JupyterLab)"
bash scripts/hub-test.sh || status=1

echo "=== extension proxy against a real Jupyter server"
"$venv/bin/python" -m unittest discover -s extension/tests -v || status=1

node scripts/test-summary.js "$out" || status=1
exit $status

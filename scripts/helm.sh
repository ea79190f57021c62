#!/usr/bin/env bash
# Helm for the test bed, built from its Go module (helm.sh/helm/v4, no replace directives) into the
# bed's cache, once per version: ${CELLPIPE_CACHE:-~/.cache/cellpipe}/k8s/helm-<version>/helm.
# Prints the binary's path. A cold build takes minutes on 2 cores (it shares the Go build cache, and
# client-go's version, with the bed's own binaries).
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v4.3.2}
cache=${CELLPIPE_CACHE:-$HOME/.cache/cellpipe}
dir="$cache/k8s/helm-$HELM_VERSION"
log() { printf '[helm] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "error: go is required to build helm"; exit 1; }
mkdir -p "$cache/k8s"
exec 9>"$cache/k8s/helm-$HELM_VERSION.lock"
if ! flock -n 9; then
  log "another build holds the lock; waiting for it"
  flock 9
fi
if [ ! -x "$dir/helm" ] || [ ! -f "$dir/.complete" ]; then
  start=$(date +%s)
  log "building helm $HELM_VERSION from the Go module proxy"
  tmp=$(mktemp -d "$cache/k8s/helm-build.XXXXXX")
  major=${HELM_VERSION%%.*}
  # Outside any module: go install builds helm as its own main module, at exactly that version.
  (cd "$tmp" && GOFLAGS="-p=${CELLPIPE_BUILD_JOBS:-2} -buildvcs=false" CGO_ENABLED=0 GOBIN="$tmp" nice -n 10 \
    go install -trimpath -ldflags "-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION -X helm.sh/helm/$major/internal/version.metadata= -X helm.sh/helm/$major/internal/version.gitTreeState=clean" \
    "helm.sh/helm/$major/cmd/helm@$HELM_VERSION") || { rm -rf "$tmp"; log "error: building helm failed"; exit 1; }
  "$tmp/helm" version --short | grep -q "^$HELM_VERSION" || { rm -rf "$tmp"; log "error: the build does not report $HELM_VERSION"; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  mv "$tmp/helm" "$dir/helm"
  rm -rf "$tmp"
  touch "$dir/.complete"
  log "built in $(( $(date +%s) - start ))s into $dir"
fi
echo "$dir/helm"

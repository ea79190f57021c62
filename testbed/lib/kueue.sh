# shellcheck shell=bash
# Kueue in the test bed: the upstream controller (sigs.k8s.io/kueue, built with `go install` from
# the Go module proxy, no wrapper module) run as a local process against a bed started by
# scripts/k8s-testbed.sh, with its CRDs, its admission and conversion webhooks (served on
# 127.0.0.1 with a CA of the bed's own) and the queues in testbed/kueue/queues.yaml. Sourced by
# scripts/k8s-testbed.sh (which defines log, die, need, free_ports, proc_alive, api, bed_running, serving_pki,
# CACHE, TESTBED, ROOT); see testbed/README.md.
#
# Kueue reads its metrics certificate from the fixed path /etc/kueue/metrics/certs when it does not
# manage certificates itself (a Secret mounted by a kubelet, which a local process has no way to
# get). It therefore runs in a private mount namespace in which /etc is an overlay whose upper layer
# (<bed>/kueue/etc-upper) holds that certificate; the host's /etc is never written.
#
# Its webhooks match every Job and Pod outside kube-system and kueue-system and fail closed, so they
# exist only while Kueue serves them: `kueue down` (and the bed's `down`) deletes them before it stops
# the process.

# v0.19.2 is the newest release the module proxy serves here (later ones answer 403); its go.mod has
# no replace directives, client-go v0.36 (one minor from the bed's apiserver).
KUEUE_VERSION=${CELLPIPE_KUEUE_VERSION:-v0.19.2}
KUEUE_MODULE=sigs.k8s.io/kueue
KUEUE_WEBHOOKS=(mutatingwebhookconfiguration/kueue-mutating-webhook-configuration
  validatingwebhookconfiguration/kueue-validating-webhook-configuration)

kueue_dir() { printf '%s/kueue' "$1"; }
kueue_bin() { printf '%s/k8s/kueue-%s/kueue' "$CACHE" "$KUEUE_VERSION"; }

# ---------------------------------------------------------------- can this machine run it?
# Prints why not and fails; prints nothing and succeeds when it can.
kueue_check() {
  [[ $(uname -s) == Linux ]] || { echo "needs Linux (a private mount namespace with an overlay on /etc)"; return 1; }
  local c
  for c in unshare mount openssl curl go node; do
    command -v "$c" >/dev/null || { echo "'$c' is missing"; return 1; }
  done
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay filesystem (Kueue's fixed certificate path)"; return 1; }
  local probe ok=0
  probe=$(mktemp -d)
  (kueue_in_namespace "$probe" true) 2>/dev/null || ok=1
  rm -rf "$probe"
  if ((ok)); then
    echo "cannot overlay /etc in a private mount namespace (unshare --mount; root or user namespaces)"
    return 1
  fi
  return 0
}

# kueue_in_namespace <work dir> <command...>: becomes (exec) the command in a private mount namespace
# in which /etc is an overlay with <work dir>/etc-upper on top. As root a mount namespace is enough;
# otherwise a user namespace maps the caller to root first. unshare, sh and the command replace one
# another, so the caller's pid ends up being the command's.
kueue_in_namespace() {
  local work=$1
  shift
  mkdir -p "$work/etc-upper" "$work/etc-work"
  local as=()
  [[ $(id -u) == 0 ]] || as=(--user --map-root-user)
  # shellcheck disable=SC2016
  exec unshare "${as[@]}" --mount --propagation private -- /bin/sh -c \
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc-upper,workdir=$1/etc-work" /etc && shift && exec "$@"' \
    sh "$work" "$@"
}

# ---------------------------------------------------------------- build
# Prints the binary's path. Keyed by version; shared by every bed of this cache.
kueue_build() {
  need go flock
  local bin dir tmp start commit
  bin=$(kueue_bin)
  dir=$(dirname "$bin")
  if [[ -x $bin && -f $dir/.complete ]]; then echo "$bin"; return 0; fi
  mkdir -p "$CACHE/k8s"
  exec 8>"$CACHE/k8s/kueue-$KUEUE_VERSION.lock"
  if ! flock -n 8; then
    log "another build of kueue $KUEUE_VERSION holds the lock; waiting for it"
    flock 8
  fi
  if [[ -x $bin && -f $dir/.complete ]]; then echo "$bin"; return 0; fi
  start=$(date +%s)
  log "building kueue $KUEUE_VERSION from the Go module proxy (cold: several minutes on 2 cores)"
  commit=$(cd /tmp && go mod download -json "$KUEUE_MODULE@$KUEUE_VERSION" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Origin?.Hash??""))') ||
    die "cannot download $KUEUE_MODULE@$KUEUE_VERSION"
  tmp=$(mktemp -d "$CACHE/k8s/kueue-build.XXXXXX")
  # Outside any module: `go install` builds Kueue as its own main module, at exactly that version.
  (cd "$tmp" && GOFLAGS="-p=${CELLPIPE_BUILD_JOBS:-2} -buildvcs=false" CGO_ENABLED=0 GOBIN="$tmp" nice -n 10 \
    go install -trimpath -ldflags "-s -w -X $KUEUE_MODULE/pkg/version.GitVersion=$KUEUE_VERSION -X $KUEUE_MODULE/pkg/version.GitCommit=$commit -X $KUEUE_MODULE/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
    "$KUEUE_MODULE/cmd/kueue@$KUEUE_VERSION") || { rm -rf "$tmp"; die "building kueue failed"; }
  rm -rf "$dir"
  mkdir -p "$dir"
  mv "$tmp/kueue" "$bin"
  rm -rf "$tmp"
  touch "$dir/.complete"
  log "built kueue $KUEUE_VERSION in $(($(date +%s) - start))s into $dir"
  echo "$bin"
}

# ---------------------------------------------------------------- up
kueue_pki() { # <kueue dir>: a CA and a serving certificate for 127.0.0.1, kept across restarts
  [[ -f $1/pki/serving.crt ]] && return 0
  serving_pki "$1/pki" cellpipe-testbed-kueue-ca kueue-webhook "IP:127.0.0.1, DNS:localhost"
}

kueue_running() { # <bed>: the process lives, is ready, and its webhooks are registered
  local kd pid
  kd=$(kueue_dir "$1")
  [[ -f $kd/kueue.pid && -f $kd/env ]] || return 1
  pid=$(<"$kd/kueue.pid")
  proc_alive "$pid" || return 1
  # shellcheck disable=SC1091
  source "$kd/env"
  curl -sf "http://127.0.0.1:$KUEUE_HEALTH_PORT/readyz" >/dev/null 2>&1 || return 1
  api "$1" GET "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kueue-mutating-webhook-configuration" >/dev/null 2>&1
}

# kueue_apply <bed> <list.json>: server-side apply of each object of a JSON List (one file each: the
# Workload CRD is too large for a command line, and for the annotation client-side apply keeps).
kueue_apply() {
  local parts path file
  parts=$(mktemp -d)
  while IFS=' ' read -r path file; do
    api "$1" PATCH "$path?fieldManager=cellpipe-testbed&force=true" \
      -H 'Content-Type: application/apply-patch+yaml' --data-binary "@$file" >/dev/null ||
      { rm -rf "$parts"; die "applying $path failed"; }
  done < <(node "$TESTBED/kueue/render.mjs" split "$2" "$parts")
  rm -rf "$parts"
}

kueue_up() { # <bed>
  local bed=${1:-}
  [[ -n $bed ]] || die "usage: $0 kueue up <dir>"
  bed=$(cd "$bed" && pwd)
  bed_running "$bed" || die "no test bed running in $bed (start it with: $0 up $bed)"
  if kueue_running "$bed"; then
    log "kueue already running in $bed"
    return 0
  fi
  local why
  why=$(kueue_check) || die "this machine cannot run Kueue: $why"
  local kd bin src start webhook_port health_port
  kd=$(kueue_dir "$bed")
  # A stale process or webhooks of an earlier run go first.
  [[ -d $kd ]] && kueue_down "$bed" >/dev/null 2>&1
  start=$(date +%s)
  bin=$(kueue_build)
  src=$(cd /tmp && go mod download -json "$KUEUE_MODULE@$KUEUE_VERSION" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  [[ -d $src/config/components/crd/bases ]] || die "no CRDs in $src"
  mkdir -p "$kd/logs" "$kd/certs"
  kueue_pki "$kd"
  mkdir -p "$kd/etc-upper/kueue/metrics/certs"
  cp "$kd/pki/serving.crt" "$kd/certs/tls.crt"
  cp "$kd/pki/serving.key" "$kd/certs/tls.key"
  cp "$kd/certs/tls.crt" "$kd/certs/tls.key" "$kd/etc-upper/kueue/metrics/certs/"
  read -r webhook_port health_port < <(free_ports 2)
  [[ -n $health_port ]] || die "no free ports on 127.0.0.1"
  cat >"$kd/env" <<EOF
KUEUE_VERSION=$KUEUE_VERSION
KUEUE_WEBHOOK_PORT=$webhook_port
KUEUE_HEALTH_PORT=$health_port
EOF
  # The visibility API (queue positions through the aggregator) needs front-proxy certificates the
  # bed's apiserver does not have, so it is off; metrics are not served (bindAddress 0).
  cat >"$kd/config.yaml" <<EOF
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health:
  healthProbeBindAddress: 127.0.0.1:$health_port
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: $webhook_port
  certDir: $kd/certs
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
featureGates:
  VisibilityOnDemand: false
clientConnection:
  qps: 300
  burst: 500
integrations:
  frameworks:
  - batch/job
EOF
  local url="https://127.0.0.1:$webhook_port"
  node "$TESTBED/kueue/render.mjs" crds "$src" "$url" "$kd/pki/ca.crt" >"$kd/crds.json" || die "rendering the CRDs failed"
  node "$TESTBED/kueue/render.mjs" webhooks "$src" "$url" "$kd/pki/ca.crt" >"$kd/webhooks.json" ||
    die "rendering the webhook configurations failed"
  kueue_apply "$bed" "$kd/crds.json"
  local crd
  for crd in $(node -e 'for (const o of JSON.parse(require("fs").readFileSync(process.argv[1])).items) console.log(o.metadata.name)' "$kd/crds.json"); do
    kueue_wait "$bed" 60 "CRD $crd established" crd_established "$bed" "$crd"
  done
  api "$bed" POST /api/v1/namespaces -H 'Content-Type: application/json' \
    --data-binary '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kueue-system"}}' >/dev/null 2>&1 || true

  # shellcheck disable=SC2016
  setsid bash -c "$(declare -f kueue_in_namespace); kueue_in_namespace \"\$@\"" kueue "$kd" \
    "$bin" --config="$kd/config.yaml" --kubeconfig="$bed/kubeconfig" --zap-log-level=2 --zap-encoder=console \
    >"$kd/logs/kueue.log" 2>&1 </dev/null &
  echo $! >"$kd/kueue.pid"
  kueue_wait "$bed" 60 "kueue ready" curl -sf "http://127.0.0.1:$health_port/readyz"
  # The host's /etc is untouched: the overlay exists only in Kueue's namespace.
  if grep -qE '^overlay /etc ' /proc/self/mounts; then
    kueue_down "$bed" >/dev/null 2>&1
    die "the overlay on /etc showed in the host's mount table (Kueue stopped)"
  fi
  # Registered only now that Kueue serves them: they fail closed.
  kueue_apply "$bed" "$kd/webhooks.json"
  node "$TESTBED/kueue/render.mjs" yaml "$TESTBED/kueue/queues.yaml" >"$kd/queues.json" || die "reading queues.yaml failed"
  kueue_apply "$bed" "$kd/queues.json"
  log "kueue $KUEUE_VERSION up in $(($(date +%s) - start))s (pid $(<"$kd/kueue.pid"), log $kd/logs/kueue.log)"
}

crd_established() { # <bed> <crd>
  api "$1" GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$2" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
      const c=(JSON.parse(s).status?.conditions??[]).find(c=>c.type==="Established");
      process.exit(c?.status==="True"?0:1)})'
}

kueue_wait() { # <bed> <seconds> <what> <command...>: polls while Kueue (once started) lives
  local bed=$1 secs=$2 what=$3 i kd
  shift 3
  kd=$(kueue_dir "$bed")
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if [[ -f $kd/kueue.pid ]] && ! proc_alive "$(<"$kd/kueue.pid")"; then
      tail -n 25 "$kd/logs/kueue.log" >&2
      kueue_down "$bed" >/dev/null 2>&1
      die "kueue exited (log above)"
    fi
    sleep 0.1
  done
  [[ -f $kd/logs/kueue.log ]] && tail -n 25 "$kd/logs/kueue.log" >&2
  kueue_down "$bed" >/dev/null 2>&1
  die "$what: not after ${secs}s"
}

# ---------------------------------------------------------------- down
kueue_down() { # <bed>: webhooks first (they fail closed), then the process
  local bed=${1:-} kd pid w i
  [[ -n $bed ]] || die "usage: $0 kueue down <dir>"
  kd=$(kueue_dir "$bed")
  [[ -d $kd ]] || return 0
  if [[ -f $bed/env ]] && api "$bed" GET /readyz >/dev/null 2>&1; then
    for w in "${KUEUE_WEBHOOKS[@]}"; do
      api "$bed" DELETE "/apis/admissionregistration.k8s.io/v1/${w%%/*}s/${w#*/}" >/dev/null 2>&1 || true
    done
  fi
  if [[ -f $kd/kueue.pid ]]; then
    pid=$(<"$kd/kueue.pid")
    # Its own session (setsid): the namespace's shell and Kueue are one process group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do proc_alive "$pid" || break; sleep 0.1; done
    if proc_alive "$pid"; then
      log "kueue still running 10s after SIGTERM; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$kd/kueue.pid"
  fi
  log "kueue in $bed stopped (its webhooks removed)"
}

kueue_status() { # <bed>
  local bed=${1:-} kd
  [[ -n $bed ]] || die "usage: $0 kueue status <dir>"
  kd=$(kueue_dir "$bed")
  if kueue_running "$bed"; then echo "kueue running (pid $(<"$kd/kueue.pid"))"; else echo "kueue stopped"; fi
  [[ -f $kd/env ]] && cat "$kd/env"
  return 0
}

# kueue <subcommand> ...: the dispatcher scripts/k8s-testbed.sh calls.
cmd_kueue() {
  local sub=${1:-}
  shift || true
  case "$sub" in
    check) kueue_check ;;
    build) kueue_build ;;
    up) kueue_up "${1:-}" ;;
    down) kueue_down "${1:-}" ;;
    status) kueue_status "${1:-}" ;;
    *) die "usage: $0 kueue check|build|up <dir>|down <dir>|status <dir>" ;;
  esac
}

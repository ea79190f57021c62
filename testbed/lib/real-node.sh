# shellcheck shell=bash
# The test bed's real node: a kubelet built from k8s.io/kubernetes, containerd and runc (Debian
# packages) and a fake GPU device plugin, joined to a bed started by scripts/k8s-testbed.sh, where
# pods really run. Sourced by scripts/k8s-testbed.sh (which defines log, die, need, start_component,
# proc_alive, free_ports, api, bed_running, CACHE, TESTBED, K8S_VERSION); see testbed/README.md.
#
# Each node is confined to its bed: its state lives in <bed>/real-node, its processes and pods in
# one cgroup subtree (/cellpipe-<id>), its mounts in one private mount namespace (where the paths the
# components hard-code, /var/lib/kubelet, /run/containerd, /var/log/pods, /var/lib/cni, are bind
# mounts of directories in the bed), its pods on a bridge and /24 of their own. So several beds can
# each have a real node, and `down` ends every process of the subtree, after which the namespace
# and every mount in it are gone with them.

REAL_NODE_NAME=real-node-0
REAL_NODE_TAINT=testbed.cellpipe.io/real-node
REAL_NODE_IMAGE=testbed.local/python:3
REAL_NODE_PAUSE_IMAGE=testbed.local/pause:3
# Debian packages of the task image: stdlib Python and nothing else.
REAL_NODE_IMAGE_PACKAGES=python3
# Bump when the way the images are made changes (the cache key of both images).
REAL_NODE_IMAGE_REVISION=1
# Fake devices (mixed MIG strategy: whole GPUs and MIG profiles are separate resources).
REAL_NODE_DEVICES=(nvidia.com/gpu=2 nvidia.com/mig-1g.10gb=2 nvidia.com/mig-3g.20gb=1)
REAL_NODE_GPU_PRODUCT=NVIDIA-A100-SXM4-80GB
# Pod networks are /24s of this /16, one per node; pods reach the host at the .1 of theirs.
REAL_NODE_NET_PREFIX=10.88
# Size limit of the tmpfs holding containerd's root: the images (about 150 MB unpacked) and what pods
# write into their containers' own file systems.
REAL_NODE_RUNTIME_SIZE=${CELLPIPE_REAL_NODE_RUNTIME_SIZE:-4g}
# Paths the kubelet, containerd 1.6 and libcni hard-code; each node binds its own directory there.
REAL_NODE_BINDS=(/var/lib/kubelet /run/containerd /var/log/pods /var/log/containers /var/lib/cni)
REAL_NODE_APT=(containerd runc containernetworking-plugins mmdebstrap iproute2)
NODE_MOD=$TESTBED/node
# Machine-wide: held while picking a free pod network, and by apt.
REAL_NODE_NET_LOCK=/run/lock/cellpipe-real-node-net.lock

rn_dir() { printf '%s/real-node' "$1"; }

# ---------------------------------------------------------------- can this machine run one?
# Prints why not and fails; prints nothing and succeeds when it can.
real_node_check() {
  if [[ $(id -u) != 0 ]]; then
    echo "needs root (containerd, runc, mounts and cgroups); running as uid $(id -u)"
    return 1
  fi
  [[ $(uname -s) == Linux ]] || { echo "needs Linux"; return 1; }
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay filesystem (containerd's snapshotter)"; return 1; }
  [[ -d /sys/fs/cgroup ]] && cgroup_hierarchies >/dev/null || { echo "no cgroup hierarchy under /sys/fs/cgroup"; return 1; }
  local c
  for c in unshare nsenter mount umount flock curl; do
    command -v "$c" >/dev/null || { echo "'$c' is missing"; return 1; }
  done
  # `ip` comes with the packages the build installs; where it is here, bridges are probed now.
  if command -v ip >/dev/null; then
    local probe=cpprobe$$
    if ! ip link add "$probe" type bridge 2>/dev/null; then
      echo "cannot create a network bridge (ip link add type bridge)"
      return 1
    fi
    ip link del "$probe" 2>/dev/null || true
  fi
  if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "cannot create a mount namespace (unshare --mount)"
    return 1
  fi
  if ! real_node_have_packages && ! command -v apt-get >/dev/null; then
    echo "some of ${REAL_NODE_APT[*]} are missing and there is no apt-get to install them"
    return 1
  fi
  return 0
}

real_node_have_packages() {
  command -v containerd >/dev/null && command -v ctr >/dev/null && command -v runc >/dev/null && command -v ip >/dev/null &&
    [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] &&
    command -v mmdebstrap >/dev/null
}

# ---------------------------------------------------------------- build
real_node_deps() {
  real_node_have_packages && return 0
  need apt-get
  local start logf
  start=$(date +%s)
  mkdir -p "$CACHE/k8s"
  logf=$CACHE/k8s/apt-install.log
  log "installing ${REAL_NODE_APT[*]} with apt-get"
  # Debian's containerd package starts no daemon without systemd; each node runs its own.
  # The package lists' lock is not waited for like dpkg's: another apt-get update holding it is retried.
  local try
  for try in 1 2 3 4 5 6; do
    apt-get -o DPkg::Lock::Timeout=900 update -qq >"$logf" 2>&1 && break
    ((try < 6)) || { tail -20 "$logf" >&2; die "apt-get update failed"; }
    sleep 10
  done
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends \
    "${REAL_NODE_APT[@]}" >>"$logf" 2>&1 || { tail -20 "$logf" >&2; die "apt-get install failed"; }
  real_node_have_packages || die "apt-get installed ${REAL_NODE_APT[*]} but containerd/runc/CNI plugins are still missing"
  log "apt packages installed in $(($(date +%s) - start))s"
}

node_key() {
  local sum
  sum=$( (cd "$NODE_MOD" && cat go.mod go.sum && find . -name '*.go' | sort | xargs cat) | sha256sum | cut -c1-12)
  printf 'node-%s-%s_%s' "$K8S_VERSION" "$(go env GOVERSION 2>/dev/null || echo go)" "$sum"
}

node_bin_dir() { printf '%s/k8s/%s/bin' "$CACHE" "$(node_key)"; }

# The kubelet (same flags as the control plane, so its shared packages come from the Go build cache),
# the fake GPU device plugin and the pause program.
real_node_build_binaries() {
  need go flock
  local dir tmp start ldflags minor
  dir=$(node_bin_dir)
  [[ -f $dir/.complete ]] && { echo "$dir"; return 0; }
  mkdir -p "$CACHE/k8s"
  exec 8>"$CACHE/k8s/node-build.lock"
  flock 8
  if [[ -f $dir/.complete ]]; then
    exec 8>&-
    echo "$dir"
    return 0
  fi
  tmp=$(mktemp -d "$CACHE/k8s/node-build.XXXXXX")
  start=$(date +%s)
  minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  log "building kubelet $K8S_VERSION, fake-gpu-plugin and pause (minutes cold; seconds when the control plane's Go cache is warm)"
  (
    cd "$NODE_MOD" &&
      export GOFLAGS="-p=${CELLPIPE_BUILD_JOBS:-2} -buildvcs=false -mod=readonly" CGO_ENABLED=0 &&
      nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kubelet &&
      nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/" ./fake-gpu-plugin ./pause
  ) || { rm -rf "$tmp"; die "building the real node's binaries failed"; }
  "$tmp/kubelet" --version | grep -q "$K8S_VERSION" || die "kubelet does not report $K8S_VERSION"
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  touch "$dir/.complete"
  exec 8>&-
  log "real node binaries built in $(($(date +%s) - start))s into $dir"
  echo "$dir"
}

image_key() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
  printf 'images-%s_%s' "$codename" \
    "$(printf '%s\n' "$REAL_NODE_IMAGE_REVISION" "$REAL_NODE_IMAGE_PACKAGES" "$REAL_NODE_IMAGE" "$REAL_NODE_PAUSE_IMAGE" |
      cat - "$NODE_MOD/mkimage.py" | sha256sum | cut -c1-12)"
}

image_dir() { printf '%s/k8s/%s' "$CACHE" "$(image_key)"; }

# The task image: a minimal Debian of the host's release (mmdebstrap, from the host's own apt sources)
# with python3, packed as an OCI archive. No registry and no image tool.
real_node_build_python_image() {
  local dir out work start codename mirror
  dir=$(image_dir)
  out=$dir/python.oci.tar
  [[ -f $out ]] && return 0
  mkdir -p "$dir"
  exec 7>"$dir/build.lock"
  flock 7
  if [[ -f $out ]]; then exec 7>&-; return 0; fi
  start=$(date +%s)
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  [[ -n $codename ]] || die "cannot tell the host's Debian release from /etc/os-release"
  mirror=/etc/apt/sources.list.d/debian.sources
  [[ -f $mirror ]] || mirror=/etc/apt/sources.list
  [[ -f $mirror ]] || mirror=http://deb.debian.org/debian
  work=$(mktemp -d "$dir/work.XXXXXX")
  log "building $REAL_NODE_IMAGE (Debian $codename: $REAL_NODE_IMAGE_PACKAGES) with mmdebstrap"
  # Check-Valid-Until: a dated snapshot mirror serves Release files past their validity. Docs, man
  # pages and locales are left out (copyright files kept).
  nice -n 10 mmdebstrap --mode=root --variant=essential --include="${REAL_NODE_IMAGE_PACKAGES// /,}" \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$codename" "$work/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1 ||
    { tail -20 "$work/mmdebstrap.log" >&2; rm -rf "$work"; die "mmdebstrap failed"; }
  python3 "$NODE_MOD/mkimage.py" --name "$REAL_NODE_IMAGE" --layer "$work/rootfs.tar" --out "$out" --cmd python3 >/dev/null ||
    { rm -rf "$work"; die "packing $REAL_NODE_IMAGE failed"; }
  rm -rf "$work"
  exec 7>&-
  log "$REAL_NODE_IMAGE built in $(($(date +%s) - start))s ($(du -h "$out" | cut -f1))"
}

# The pod sandbox image: the pause program alone.
real_node_build_pause_image() {
  local bin=$1 dir out work
  dir=$(image_dir)
  out=$dir/pause-$(sha256sum "$bin/pause" | cut -c1-12).oci.tar
  if [[ ! -f $out ]]; then
    mkdir -p "$dir"
    work=$(mktemp -d "$dir/work.XXXXXX")
    install -m 0755 "$bin/pause" "$work/pause"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "$work/layer.tar" pause
    python3 "$NODE_MOD/mkimage.py" --name "$REAL_NODE_PAUSE_IMAGE" --layer "$work/layer.tar" --out "$out" \
      --entrypoint /pause >/dev/null || { rm -rf "$work"; die "packing $REAL_NODE_PAUSE_IMAGE failed"; }
    rm -rf "$work"
  fi
  echo "$out"
}

# build [images|binaries]: everything a node needs, each part cached; prints nothing on stdout.
real_node_build() {
  local what=${1:-all} start bin
  start=$(date +%s)
  if [[ $what == all || $what == images ]]; then
    real_node_deps
    real_node_build_python_image
  fi
  if [[ $what == all || $what == binaries ]]; then
    bin=$(real_node_build_binaries)
    real_node_build_pause_image "$bin" >/dev/null
  fi
  log "real node build ($what) ready in $(($(date +%s) - start))s"
}

# ---------------------------------------------------------------- cgroups
# Prints one line per cgroup hierarchy root the node's subtree is made in: the unified root on a
# cgroup v2 host, else every mounted v1 hierarchy (plus the named systemd one).
cgroup_hierarchies() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo /sys/fs/cgroup
    return 0
  fi
  local found=1 line
  while read -r line; do
    # <source> <target> cgroup <options>
    set -- $line
    [[ $3 == cgroup ]] || continue
    echo "$2"
    found=0
  done </proc/mounts
  return $found
}

cgroup_v2() { [[ -f /sys/fs/cgroup/cgroup.controllers ]]; }

# make_cgroups <id>: /<id> and /<id>/system in every hierarchy.
make_cgroups() {
  local id=$1 h c
  if cgroup_v2; then
    # Controllers must be enabled on the way down; processes live in leaves only.
    for c in cpu cpuset memory pids io hugetlb; do
      grep -qw "$c" /sys/fs/cgroup/cgroup.controllers && echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    done
    mkdir -p "/sys/fs/cgroup/$id/system"
    for c in $(cat "/sys/fs/cgroup/$id/cgroup.controllers"); do echo "+$c" >"/sys/fs/cgroup/$id/cgroup.subtree_control" 2>/dev/null || true; done
    return 0
  fi
  while read -r h; do
    mkdir -p "$h/$id/system"
    if [[ -f $h/cpuset.cpus ]]; then
      # A v1 cpuset child starts empty and takes no process until given CPUs and memory nodes.
      cat "$h/cpuset.cpus" >"$h/$id/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$id/cpuset.mems"
      cat "$h/cpuset.cpus" >"$h/$id/system/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$id/system/cpuset.mems"
    fi
  done < <(cgroup_hierarchies)
}

# The pids of every process in the subtree (zombies included: they leave when reaped).
cgroup_pids() {
  local id=$1 h
  h=$(cgroup_v2 && echo /sys/fs/cgroup || cgroup_hierarchies | grep -m1 -E '/(pids|memory)$')
  [[ -n $h && -d $h/$id ]] || return 0
  find "$h/$id" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un
}

# Kills every process in the subtree: frozen first, so nothing forks while the rest is killed.
kill_cgroups() {
  local id=$1 i pid pids live freezer=
  if cgroup_v2; then
    [[ -f /sys/fs/cgroup/$id/cgroup.kill ]] && echo 1 >"/sys/fs/cgroup/$id/cgroup.kill" 2>/dev/null
  else
    freezer=$(cgroup_hierarchies | grep -m1 '/freezer$' || true)
    [[ -n $freezer && -d $freezer/$id ]] && echo FROZEN >"$freezer/$id/freezer.state" 2>/dev/null || freezer=
  fi
  for ((i = 0; i < 100; i++)); do
    live=0
    pids=$(cgroup_pids "$id")
    for pid in $pids; do
      proc_alive "$pid" || continue
      live=1
      kill -KILL "$pid" 2>/dev/null || true
    done
    [[ -n $freezer ]] && { echo THAWED >"$freezer/$id/freezer.state" 2>/dev/null || true; freezer=; }
    ((live)) || return 0
    sleep 0.1
  done
  log "processes of cgroup $id still alive after SIGKILL: $(cgroup_pids "$id" | tr '\n' ' ')"
  return 1
}

# Every cgroup filesystem mounted, v1 and v2: on a hybrid host runc also makes the pods' cgroups in
# the unified (v2) hierarchy, where the node's processes never were.
cgroup_mounts() {
  local line
  while read -r line; do
    set -- $line
    [[ $3 == cgroup || $3 == cgroup2 ]] && echo "$2"
  done </proc/mounts | sort -u
}

remove_cgroups() {
  local id=$1 h
  while read -r h; do
    [[ -d $h/$id ]] || continue
    # Deepest first; a cgroup whose last process is a zombie not yet reaped stays busy for a moment.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      find "$h/$id" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d $h/$id ]] || break
      sleep 0.2
    done
    [[ -d $h/$id ]] && log "could not remove cgroup $h/$id (still busy)"
  done < <(cgroup_mounts)
  return 0
}

# ---------------------------------------------------------------- network
# pick_network <bridge>: a /24 no interface of this machine uses yet, on a new bridge carrying its
# .1 (the node's address: the kubelet refuses a loopback one, and pods reach the host there).
pick_network() {
  local bridge=$1 x used
  mkdir -p "$(dirname "$REAL_NODE_NET_LOCK")"
  exec 6>"$REAL_NODE_NET_LOCK"
  flock 6
  if ip link show "$bridge" >/dev/null 2>&1; then ip link del "$bridge" 2>/dev/null || true; fi
  used=$(ip -4 -o addr show | awk '{print $4}')
  for ((x = 1; x < 255; x++)); do
    grep -q "^$REAL_NODE_NET_PREFIX\.$x\." <<<"$used" && continue
    ip link add "$bridge" type bridge || { exec 6>&-; die "cannot create bridge $bridge"; }
    ip addr add "$REAL_NODE_NET_PREFIX.$x.1/24" dev "$bridge"
    ip link set "$bridge" up
    exec 6>&-
    echo "$REAL_NODE_NET_PREFIX.$x"
    return 0
  done
  exec 6>&-
  die "no free /24 left in $REAL_NODE_NET_PREFIX.0.0/16"
}

# ---------------------------------------------------------------- up
write_containerd_config() { # <rn> <net> <bridge>
  local rn=$1 net=$2 bridge=$3
  mkdir -p "$rn/containerd" "$rn/cni/net.d"
  cat >"$rn/containerd/config.toml" <<EOF
version = 2
root = "$rn/containerd/root"
state = "$rn/containerd/state"
[grpc]
  address = "$rn/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REAL_NODE_PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  # Where root lacks CAP_SYS_RESOURCE (as in some VMs), runc cannot apply the negative
  # oom_score_adj the kubelet asks for (-998 for sandboxes) and every pod fails to start with "can't
  # get final child's PID from pipe: EOF". Clamp those to containerd's own value instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$rn/cni/net.d"
EOF
  # No masquerade and no port mapping: pods talk to the host (the bridge address) and to each other,
  # and the node adds no iptables rule that could outlive it.
  cat >"$rn/cni/net.d/10-cellpipe.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cellpipe-$bridge",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": false, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$net.0/24", "gateway": "$net.1"}]],
              "routes": [{"dst": "0.0.0.0/0", "gw": "$net.1"}], "dataDir": "$rn/cni/ipam"}}
  ]
}
EOF
}

write_kubelet_config() { # <rn> <node ip> <port> <healthz port> <cgroup id>
  local rn=$1 ip=$2 port=$3 hport=$4 id=$5
  cat >"$rn/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 hosts: the kubelet refuses them since 1.35 unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$id
failSwapOn: false
containerRuntimeEndpoint: unix://$rn/containerd.sock
address: $ip
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $hport
# The bed's apiserver calls kubelets without a client certificate: logs and exec arrive anonymous.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
resolvConf: /etc/resolv.conf
serializeImagePulls: false
makeIPTablesUtilChains: false
# The images are imported, never pulled: never collect them; evict only when the disk is really full.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
registerWithTaints:
- {key: $REAL_NODE_TAINT, value: "true", effect: NoSchedule}
EOF
}

# A command run inside the node: in its cgroup subtree and its mount namespace.
write_enter_script() { # <rn> <cgroup id> <namespace holder pid>
  local rn=$1 id=$2 holder=$3 h procs=()
  if cgroup_v2; then procs=("/sys/fs/cgroup/$id/system/cgroup.procs"); else
    while read -r h; do procs+=("$h/$id/system/cgroup.procs"); done < <(cgroup_hierarchies)
  fi
  {
    echo '#!/usr/bin/env bash'
    echo '# Runs a command inside the real node: its cgroup subtree and its mount namespace.'
    printf 'for f in'
    printf ' %q' "${procs[@]}"
    printf '; do echo $$ >"$f"; done\n'
    printf 'exec nsenter --mount=/proc/%s/ns/mnt -- "$@"\n' "$holder"
  } >"$rn/enter"
  chmod 755 "$rn/enter"
}

rn_alive() { component_alive "$(rn_dir "$1")" "$2"; }

holder_ready() { # <pid>: unshare has made the namespace and exec'd sleep
  local ns self
  [[ $(cat "/proc/$1/comm" 2>/dev/null) == sleep ]] || return 1
  ns=$(readlink "/proc/$1/ns/mnt") && self=$(readlink /proc/self/ns/mnt) || return 1
  [[ $ns == mnt:* && $ns != "$self" ]]
}

# Mount points in the host's namespace whose source lies under <dir> (none, unless something leaked).
host_mounts_under() {
  local dir=$1
  awk -v d="$dir/" 'index($4, d) == 1 || index($5, d) == 1 { print $5 }' /proc/1/mountinfo /proc/self/mountinfo | sort -u
}

rn_wait() { # <bed> <component> <secs> <what> <command...>
  local bed=$1 comp=$2 secs=$3 what=$4 i rn
  rn=$(rn_dir "$bed")
  shift 4
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! rn_alive "$bed" "$comp"; then
      log "$comp exited; last lines of $rn/logs/$comp.log:"
      tail -n 25 "$rn/logs/$comp.log" >&2 || true
      real_node_down "$bed" >/dev/null 2>&1 || true
      die "the real node did not start ($comp exited while waiting for $what)"
    fi
    sleep 0.1
  done
  log "$what not reached after ${secs}s; last lines of $rn/logs/$comp.log:"
  tail -n 25 "$rn/logs/$comp.log" >&2 || true
  real_node_down "$bed" >/dev/null 2>&1 || true
  die "the real node did not start ($what)"
}

node_condition_ready() { # <bed>
  api "$1" GET "/api/v1/nodes/$REAL_NODE_NAME" | python3 -c '
import json, sys
n = json.load(sys.stdin)
ok = any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
sys.exit(0 if ok else 1)'
}

node_has_devices() { # <bed>: the device plugin's resources are allocatable
  api "$1" GET "/api/v1/nodes/$REAL_NODE_NAME" | python3 -c '
import json, sys
alloc = json.load(sys.stdin).get("status", {}).get("allocatable", {})
want = dict(d.split("=") for d in sys.argv[1:])
sys.exit(0 if all(alloc.get(k) == v for k, v in want.items()) else 1)' "${REAL_NODE_DEVICES[@]}"
}

real_node_running() { # <bed>
  local rn
  rn=$(rn_dir "$1")
  [[ -f $rn/env ]] || return 1
  local c
  for c in namespace containerd kubelet fake-gpu-plugin; do rn_alive "$1" "$c" || return 1; done
  node_condition_ready "$1"
}

real_node_up() { # <bed>
  local bed=${1:-} reason
  [[ -n $bed ]] || die "usage: $0 real-node up <dir>"
  bed=$(cd "$bed" && pwd)
  reason=$(real_node_check) || die "this machine cannot run a real node: $reason"
  bed_running "$bed" || die "no running bed in $bed; start one with '$0 up $bed'"
  local rn
  rn=$(rn_dir "$bed")
  if real_node_running "$bed"; then
    log "real node already up in $bed"
    cat "$rn/env"
    return 0
  fi
  [[ -d $rn ]] && { log "found a partial real node in $rn; cleaning it first"; real_node_down "$bed" >/dev/null; }
  real_node_build
  local bin images start id bridge net holder kport hport labels
  bin=$(real_node_build_binaries)
  images=$(image_dir)
  start=$(date +%s)
  id=cellpipe-$(printf '%s' "$bed" | sha256sum | cut -c1-10)
  bridge=cpbr$(printf '%s' "$bed" | sha256sum | cut -c1-8)
  mkdir -p "$rn"/{logs,pids,cni/ipam,kubelet-pki}
  for d in "${REAL_NODE_BINDS[@]}"; do mkdir -p "$rn/mnt$d"; done
  # Written first: down finds what to remove from here even when up fails half-way.
  printf 'REAL_NODE_CGROUP=%s\nREAL_NODE_BRIDGE=%s\n' "$id" "$bridge" >"$rn/resources"

  net=$(pick_network "$bridge")
  make_cgroups "$id"

  # The mount namespace lives as long as its holder (and anything else inside) does.
  local procs=() h
  if cgroup_v2; then procs=("/sys/fs/cgroup/$id/system/cgroup.procs"); else
    while read -r h; do procs+=("$h/$id/system/cgroup.procs"); done < <(cgroup_hierarchies)
  fi
  start_component "$rn" namespace bash -c 'for f in "$@"; do echo $$ >"$f"; done; exec unshare --mount --propagation private sleep infinity' _ "${procs[@]}"
  holder=$(<"$rn/pids/namespace.pid")
  # Ready once unshare has exec'd sleep (the namespace made and its mounts private). The ns link
  # alone is not enough: it cannot be read while the process execs, and an empty reading differs too.
  rn_wait "$bed" namespace 10 "the node's mount namespace" holder_ready "$holder"
  # Private again, explicitly: nothing mounted inside may ever propagate to the host.
  nsenter --mount="/proc/$holder/ns/mnt" -- mount --make-rprivate / || { real_node_down "$bed"; die "cannot make the node's mounts private"; }
  for d in "${REAL_NODE_BINDS[@]}"; do
    mkdir -p "$d" # an empty mount point on the host; the node's own directory is bound over it inside
    nsenter --mount="/proc/$holder/ns/mnt" -- mount --bind "$rn/mnt$d" "$d" || { real_node_down "$bed"; die "cannot bind $d"; }
  done
  # containerd's root (the imported images, unpacked, and the pods' writable layers) in memory: the
  # images import faster, and all of it goes with the namespace instead of being deleted file by file.
  mkdir -p "$rn/containerd/root"
  nsenter --mount="/proc/$holder/ns/mnt" -- mount -t tmpfs -o "mode=0711,size=$REAL_NODE_RUNTIME_SIZE" \
    cellpipe-containerd "$rn/containerd/root" || { real_node_down "$bed"; die "cannot mount containerd's tmpfs"; }
  if host_mounts_under "$rn" | grep -q .; then
    real_node_down "$bed"
    die "a mount meant for the node's own namespace appeared on the host"
  fi
  write_enter_script "$rn" "$id" "$holder"

  write_containerd_config "$rn" "$net" "$bridge"
  start_component "$rn" containerd "$rn/enter" containerd --config "$rn/containerd/config.toml"
  rn_wait "$bed" containerd 30 "containerd's socket" ctr -a "$rn/containerd.sock" version
  ctr -a "$rn/containerd.sock" -n k8s.io images import "$(real_node_build_pause_image "$bin")" >/dev/null &&
    ctr -a "$rn/containerd.sock" -n k8s.io images import "$images/python.oci.tar" >/dev/null ||
    { real_node_down "$bed"; die "importing the images into containerd failed"; }

  read -r kport hport < <(free_ports 2)
  write_kubelet_config "$rn" "$net.1" "$kport" "$hport" "$id"
  labels=$REAL_NODE_TAINT=true,type=real,nvidia.com/gpu.present=true,nvidia.com/mig.strategy=mixed
  labels+=,nvidia.com/gpu.product=$REAL_NODE_GPU_PRODUCT
  # The kubelet uses the bed's admin kubeconfig: the bed has a token file, no bootstrap tokens.
  start_component "$rn" kubelet "$rn/enter" "$bin/kubelet" --config="$rn/kubelet.yaml" \
    --kubeconfig="$bed/kubeconfig" --cert-dir="$rn/kubelet-pki" \
    --hostname-override="$REAL_NODE_NAME" --node-ip="$net.1" --node-labels="$labels" --v=1
  rn_wait "$bed" kubelet 60 "the kubelet's healthz" curl -sf "http://127.0.0.1:$hport/healthz"
  rn_wait "$bed" kubelet 60 "node $REAL_NODE_NAME Ready" node_condition_ready "$bed"

  local devices=() d
  for d in "${REAL_NODE_DEVICES[@]}"; do devices+=(-resource "$d"); done
  start_component "$rn" fake-gpu-plugin "$rn/enter" "$bin/fake-gpu-plugin" -node "$REAL_NODE_NAME" "${devices[@]}"
  rn_wait "$bed" fake-gpu-plugin 60 "the fake GPUs on node $REAL_NODE_NAME" node_has_devices "$bed"

  cat >"$rn/env" <<EOF
REAL_NODE_NAME=$REAL_NODE_NAME
REAL_NODE_IP=$net.1
REAL_NODE_POD_SUBNET=$net.0/24
REAL_NODE_IMAGE=$REAL_NODE_IMAGE
REAL_NODE_TAINT=$REAL_NODE_TAINT
REAL_NODE_KUBELET_PORT=$kport
REAL_NODE_CONTAINERD_SOCK=$rn/containerd.sock
REAL_NODE_CGROUP=$id
REAL_NODE_BRIDGE=$bridge
EOF
  log "real node $REAL_NODE_NAME Ready in $(($(date +%s) - start))s (pods on $net.0/24, logs in $rn/logs)"
  cat "$rn/env"
}

# ---------------------------------------------------------------- down
real_node_down() { # <bed>
  local bed=${1:-} rn id='' bridge='' c pid
  [[ -n $bed ]] || die "usage: $0 real-node down <dir>"
  rn=$(rn_dir "$bed")
  [[ -d $rn ]] || return 0
  if [[ -f $rn/resources ]]; then
    id=$(sed -n 's/^REAL_NODE_CGROUP=//p' "$rn/resources")
    bridge=$(sed -n 's/^REAL_NODE_BRIDGE=//p' "$rn/resources")
  fi
  # The kubelet first (gracefully: it stops syncing pods), then everything in the subtree at once:
  # pods, shims, containerd, the device plugin and the namespace holder.
  for c in fake-gpu-plugin kubelet; do
    [[ -f $rn/pids/$c.pid ]] || continue
    pid=$(<"$rn/pids/$c.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do proc_alive "$pid" || break; sleep 0.1; done
  done
  [[ -n $id ]] && kill_cgroups "$id"
  # Anything recorded but outside the subtree (it failed before joining it).
  for c in "$rn"/pids/*.pid; do
    [[ -f $c ]] || continue
    pid=$(<"$c")
    proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  [[ -n $id ]] && remove_cgroups "$id"
  [[ -n $bridge ]] && ip link del "$bridge" 2>/dev/null
  # The mounts were made in the node's own namespace, which ended with its last process. One of the
  # host's under the node's directory would be a leak: say so, and unmount it before removing files.
  local m
  while read -r m; do
    [[ -n $m ]] || continue
    log "unmounting $m: a mount of the node's found in the host's namespace"
    umount -l "$m" 2>/dev/null || true
  done < <(host_mounts_under "$rn" | sort -r)
  if bed_api_up "$bed"; then
    api "$bed" DELETE "/api/v1/nodes/$REAL_NODE_NAME" >/dev/null 2>&1 || true
  fi
  rm -rf "$bed/real-node.last-logs"
  [[ -d $rn/logs ]] && mv "$rn/logs" "$bed/real-node.last-logs"
  rm -rf "$rn"
  log "real node in $bed stopped"
}

bed_api_up() { [[ -f $1/env ]] && api "$1" GET /readyz >/dev/null 2>&1; }

real_node_status() { # <bed>
  local bed=${1:-} rn c
  [[ -n $bed ]] || die "usage: $0 real-node status <dir>"
  rn=$(rn_dir "$bed")
  for c in namespace containerd kubelet fake-gpu-plugin; do
    if rn_alive "$bed" "$c"; then echo "$c running (pid $(<"$rn/pids/$c.pid"))"; else echo "$c stopped"; fi
  done
  [[ -f $rn/env ]] && cat "$rn/env"
  return 0
}

# real-node <subcommand> ...: the dispatcher scripts/k8s-testbed.sh calls.
cmd_real_node() {
  local sub=${1:-}
  shift || true
  case "$sub" in
    check) real_node_check ;;
    build) real_node_build "${1:-all}" ;;
    up) real_node_up "${1:-}" ;;
    down) real_node_down "${1:-}" ;;
    status) real_node_status "${1:-}" ;;
    *) die "usage: $0 real-node check|build [images|binaries]|up <dir>|down <dir>|status <dir>" ;;
  esac
}

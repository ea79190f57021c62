"""What the task used, for result.json ``usage``: peak memory, CPU time and, where nvidia-smi is
present, GPU utilisation and memory.

task.json ``usage`` says what the runner may measure:

- ``container`` (an executor that runs each attempt in a container of its own: a Kubernetes pod).
  The runner's cgroup holds the task and nothing else, so it is read when the task ends. Its folder
  is found from /proc/self/cgroup and /proc/self/mountinfo (the process's cgroup path below the
  mount's root), which gives the container's own folder with a private cgroup namespace (cgroup v2
  under containerd: /sys/fs/cgroup itself) and without one (a cgroup v1 node, where runc bind-mounts
  the container's folder of each controller at /sys/fs/cgroup/<controller>).

  - cgroup v2: ``memory.peak`` (the most the cgroup held at once, page cache included; Linux 5.19
    and later), ``cpu.stat`` ``usage_usec``, ``memory.events`` ``oom_kill``;
  - cgroup v1: ``memory.max_usage_in_bytes``, ``cpuacct.usage`` (nanoseconds), ``memory.oom_control``
    ``oom_kill``;
  - a number neither has (a v2 kernel before 5.19 has no memory.peak; a read-only or missing
    mount) comes from getrusage, and ``sources`` names where each number came from.

  The GPUs the device plugin gave the container (the ``GPU-`` UUIDs in NVIDIA_VISIBLE_DEVICES) are
  sampled with nvidia-smi while the task runs, by the rules of the local executor's sampler
  (server/src/gpu/usage-sampler.ts). MIG devices have no utilisation of their own (nvidia-smi says
  N/A in MIG mode), and a container whose devices are not named (NVIDIA_VISIBLE_DEVICES=all in
  CUDA images) may see other pods' GPUs: both record nothing rather than another device's numbers.

- ``process`` (the default). The runner's cgroup may be the server's and nvidia-smi sees the whole
  machine (a local executor, which measures the attempt's own cgroup and GPUs from outside), so
  only getrusage: RUSAGE_SELF plus RUSAGE_CHILDREN for CPU time, and for memory the larger
  ``ru_maxrss`` of the two, which is the largest single process rather than what all of them held
  together, and counts children only once they were waited for: a lower bound.

Measuring is an observation: nothing here ever fails the task.
"""

import os
import sys
import threading

from .contract import Usage, UsageSources

MIB = 1024 * 1024
GPU_QUERY = ["--query-gpu=uuid,utilization.gpu,memory.used", "--format=csv,noheader,nounits"]
# The device plugin's volume-mounts strategy names the devices as files here instead of in the variable.
DEVICE_LIST_DIR = "/var/run/nvidia-container-devices"


# ---- cgroup ---------------------------------------------------------------------------------------------


def _unescape(path):
    """Octal escapes (\\040 for a space) of /proc/self/mountinfo."""
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (OSError, ValueError):
        return None


def own_cgroups(proc_cgroup="/proc/self/cgroup", mountinfo="/proc/self/mountinfo"):
    """The folders of this process's cgroups: {"v2": dir, "memory": dir, "cpuacct": dir}, each only
    where it is mounted here. A mount shows the hierarchy from its root (a cgroup namespace's root, or
    the folder a container runtime bound there); the process's path is below it."""
    paths = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            paths["v2"] = path
        for c in controllers.split(","):
            if c in ("memory", "cpuacct"):
                paths[c] = path
    found = {}
    for line in (_read(mountinfo) or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split(" ")
        if not sep or len(fields) < 5:
            continue
        # After the separator: file system type, source, super options (a v1 mount's controllers).
        after = right.split(" ")
        if after[0] == "cgroup2":
            keys = ["v2"]
        elif after[0] == "cgroup" and len(after) > 2:
            keys = [c for c in ("memory", "cpuacct") if c in after[2].split(",")]
        else:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        for key in keys:
            path = paths.get(key)
            if key in found or path is None:
                continue
            below = _below(path, root)
            if below is not None:
                found[key] = os.path.join(point, below) if below else point
    return found


def _below(path, root):
    """path relative to root ("" when equal), or None when path is not inside root."""
    root = root.rstrip("/")
    if path == root or (root == "" and path == "/"):
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def _stat_value(text, key):
    """The value of ``key`` in ``key value`` lines (cpu.stat, memory.events, memory.oom_control)."""
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return None


def _number(text):
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def cgroup_usage(dirs):
    """(peak bytes, cpu seconds, oom kills, sources) from the cgroup folders; None where unknown."""
    peak = cpu = kills = None
    sources = {}
    v2 = dirs.get("v2")
    if v2:
        peak = _number(_read(os.path.join(v2, "memory.peak")))
        if peak is not None:
            sources["memory"] = "cgroup-v2"
        usec = _stat_value(_read(os.path.join(v2, "cpu.stat")), "usage_usec")
        if usec is not None:
            cpu, sources["cpu"] = usec / 1e6, "cgroup-v2"
        kills = _stat_value(_read(os.path.join(v2, "memory.events")), "oom_kill")
    if peak is None and dirs.get("memory"):
        peak = _number(_read(os.path.join(dirs["memory"], "memory.max_usage_in_bytes")))
        if peak is not None:
            sources["memory"] = "cgroup-v1"
    if cpu is None and dirs.get("cpuacct"):
        nsec = _number(_read(os.path.join(dirs["cpuacct"], "cpuacct.usage")))
        if nsec is not None:
            cpu, sources["cpu"] = nsec / 1e9, "cgroup-v1"
    if kills is None and dirs.get("memory"):
        kills = _stat_value(_read(os.path.join(dirs["memory"], "memory.oom_control")), "oom_kill")
    return peak, cpu, kills, sources


def rusage():
    """(peak bytes, cpu seconds) of this process and the children it waited for."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    unit = 1 if sys.platform == "darwin" else 1024
    peak = max(me.ru_maxrss, children.ru_maxrss) * unit
    cpu = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
    return peak, cpu


# ---- GPUs -----------------------------------------------------------------------------------------------


def _field(text):
    """A number of nvidia-smi's CSV; [N/A], [Not Supported] and the like are no value."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


def parse_gpu_query(text):
    """uuid -> (utilisation %, memory bytes), either None, from nvidia-smi's CSV (as usage-sampler.ts)."""
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0]:
            continue
        util, mem = _field(parts[1]), _field(parts[2])
        out[parts[0]] = (util, None if mem is None else int(round(mem * MIB)))
    return out


def visible_gpus(environ=None, device_dir=DEVICE_LIST_DIR):
    """The whole GPUs the device plugin gave this container: the GPU- UUIDs it named."""
    environ = os.environ if environ is None else environ
    value = environ.get("NVIDIA_VISIBLE_DEVICES", "")
    if value == device_dir:
        try:
            names = sorted(os.listdir(device_dir))
        except OSError:
            names = []
    else:
        names = [v.strip() for v in value.split(",")]
    return [n for n in names if n.startswith("GPU-")]


class GpuAccumulator(object):
    """Folds samples as usage-sampler.ts does: utilisation averaged over the GPUs per sample, then over
    samples (mean) or its highest single-GPU value (peak); memory summed over the GPUs per sample, the
    highest sample kept."""

    def __init__(self, uuids):
        self.uuids = list(uuids)
        self.util_sum = 0.0
        self.util_samples = 0
        self.util_peak = None
        self.mem_peak = None

    def add(self, readings):
        mine = [readings[u] for u in self.uuids if u in readings]
        utils = [r[0] for r in mine if r[0] is not None and r[0] <= 100]
        if utils:
            self.util_sum += sum(utils) / len(utils)
            self.util_samples += 1
            self.util_peak = max([self.util_peak or 0] + utils)
        mems = [r[1] for r in mine if r[1] is not None]
        if mems:
            self.mem_peak = max(self.mem_peak or 0, sum(mems))

    def result(self):
        """(mean %, peak %, peak memory bytes), each None when nothing was seen."""
        mean = round(self.util_sum / self.util_samples, 1) if self.util_samples else None
        return mean, self.util_peak, self.mem_peak


class GpuSampler(object):
    """Samples the container's GPUs with nvidia-smi from start() until stop(), one call at a time,
    each bounded in time, in a daemon thread (a sample never keeps the runner alive)."""

    def __init__(self, uuids, binary, interval=5.0):
        self.acc = GpuAccumulator(uuids)
        self.binary = binary
        self.interval = interval
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._loop, name="cellpipe-gpu-usage", daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        import subprocess

        while not self.stopped.is_set():
            try:
                done = subprocess.run(
                    [self.binary] + GPU_QUERY,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    timeout=max(2.0, self.interval),
                )
                if done.returncode == 0:
                    readings = parse_gpu_query(done.stdout.decode("utf-8", "replace"))
                    with self.lock:
                        if not self.stopped.is_set():
                            self.acc.add(readings)
            except Exception:
                pass  # no driver, a hung nvidia-smi: this sample is skipped, the task never hears of it
            self.stopped.wait(self.interval)

    def stop(self):
        """What was seen so far; never waits for a running nvidia-smi (a SIGTERM handler calls it)."""
        self.stopped.set()
        if self.lock.acquire(timeout=1):
            try:
                return self.acc.result()
            finally:
                self.lock.release()
        return None, None, None


# ---- the meter ------------------------------------------------------------------------------------------


class Meter(object):
    """Started with the run, finished when result.json is written."""

    def __init__(self, mode, nvidia_smi=None, environ=None, interval=5.0, proc_cgroup=None, mountinfo=None):
        self.container = mode == "container"
        self._proc = {}
        if proc_cgroup:
            self._proc["proc_cgroup"] = proc_cgroup
        if mountinfo:
            self._proc["mountinfo"] = mountinfo
        self.gpu = None
        if self.container:
            import shutil

            uuids = visible_gpus(environ)
            binary = nvidia_smi or shutil.which("nvidia-smi")
            if uuids and binary:
                self.gpu = GpuSampler(uuids, binary, interval).start()

    def finish(self):
        """The task's usage as a contract.Usage, or None when nothing could be measured."""
        try:
            return self._finish()
        except Exception:
            return None

    def _finish(self):
        usage = Usage()
        sources = UsageSources()
        peak = cpu = kills = None
        if self.container:
            peak, cpu, kills, found = cgroup_usage(own_cgroups(**self._proc))
            sources.memory, sources.cpu = found.get("memory"), found.get("cpu")
        if peak is None or cpu is None:
            r_peak, r_cpu = rusage()
            if peak is None:
                peak, sources.memory = r_peak, "rusage"
            if cpu is None:
                cpu, sources.cpu = r_cpu, "rusage"
        usage.peakMemoryBytes = int(peak)
        usage.cpuSeconds = round(cpu, 3)
        usage.oomKills = kills
        if self.gpu is not None:
            mean, top, memory = self.gpu.stop()
            usage.gpuUtilizationMeanPercent, usage.gpuUtilizationPeakPercent = mean, top
            usage.gpuMemoryPeakBytes = memory
            if mean is not None or memory is not None:
                sources.gpu = "nvidia-smi"
        usage.sources = sources
        return usage

"""What the task used (cellpipe_runner/usage.py): the task's own cgroup found and read from fake
/proc/self/cgroup, mountinfo and cgroup folders (v2, v1, a v2 kernel without memory.peak, none), the
getrusage fallback, and GPU sampling with a fake nvidia-smi on PATH."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

RUNNER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, RUNNER_DIR)

from cellpipe_runner import usage  # noqa: E402
from cellpipe_runner.contract import to_json  # noqa: E402

MIB = 1024 * 1024
GPU_A = "GPU-0a0a0a0a-1111-2222-3333-444444444444"
GPU_B = "GPU-0b0b0b0b-1111-2222-3333-444444444444"
MIG = "MIG-0c0c0c0c-1111-2222-3333-444444444444"
# What a container on the test bed's real node (cgroup v1, runc, no cgroup namespace) sees.
POD = "/cellpipe-136989a216/kubepods/podac1a7f92/43ec54a8"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Fixture(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cellpipe-usage-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cg = os.path.join(self.dir, "sys", "fs", "cgroup")

    def proc(self, cgroup_lines, mount_lines):
        write(os.path.join(self.dir, "cgroup"), "\n".join(cgroup_lines) + "\n")
        write(os.path.join(self.dir, "mountinfo"), "\n".join(mount_lines) + "\n")
        return {"proc_cgroup": os.path.join(self.dir, "cgroup"), "mountinfo": os.path.join(self.dir, "mountinfo")}

    def v2_container(self):
        """containerd on a cgroup v2 node: a private cgroup namespace, the container's folder at the root."""
        return self.proc(
            ["0::/"],
            ["1191 1185 0:27 / %s ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate" % self.cg],
        )

    def v1_container(self):
        lines = ["4:memory:%s" % POD, "2:cpu,cpuacct:%s" % POD, "1:name=systemd:%s" % POD, "0::%s" % POD]
        mounts = [
            "138 137 0:57 / %s rw,nosuid - tmpfs tmpfs rw,mode=755" % self.cg,
            "142 138 0:32 %s %s/memory ro,nosuid - cgroup cgroup rw,memory" % (POD, self.cg),
            "140 138 0:30 %s %s/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct" % (POD, self.cg),
            "147 138 0:37 %s %s/systemd ro,nosuid - cgroup cgroup rw,name=systemd" % (POD, self.cg),
        ]
        return self.proc(lines, mounts)


class OwnCgroupsTest(Fixture):
    def test_a_v2_container_reads_the_root_of_its_namespace(self):
        self.assertEqual(usage.own_cgroups(**self.v2_container()), {"v2": self.cg})

    def test_a_v1_container_reads_the_folders_bound_at_its_controllers(self):
        self.assertEqual(
            usage.own_cgroups(**self.v1_container()),
            {"memory": self.cg + "/memory", "cpuacct": self.cg + "/cpu,cpuacct"},
        )

    def test_a_process_on_the_host_reads_its_path_below_the_mount(self):
        paths = self.proc(
            ["0::/system.slice/cellpipe.service/attempt 1"],
            ["30 23 0:26 / %s\\040x rw - cgroup2 cgroup2 rw" % self.cg],
        )
        self.assertEqual(usage.own_cgroups(**paths), {"v2": self.cg + " x/system.slice/cellpipe.service/attempt 1"})

    def test_a_cgroup_outside_the_mounted_root_is_not_read(self):
        paths = self.proc(["0::/../other"], ["30 23 0:26 /mine %s rw - cgroup2 cgroup2 rw" % self.cg])
        self.assertEqual(usage.own_cgroups(**paths), {})

    def test_no_proc_files_no_cgroups(self):
        missing = os.path.join(self.dir, "absent")
        self.assertEqual(usage.own_cgroups(missing, missing), {})


class MeterTest(Fixture):
    def finish(self, paths, **kwargs):
        got = usage.Meter("container", proc_cgroup=paths["proc_cgroup"], mountinfo=paths["mountinfo"], **kwargs)
        return to_json(got.finish())

    def test_cgroup_v2_gives_peak_memory_cpu_time_and_oom_kills(self):
        write(self.cg + "/memory.peak", "73924608\n")
        write(self.cg + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
        write(self.cg + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
        self.assertEqual(
            self.finish(self.v2_container()),
            {
                "peakMemoryBytes": 73924608,
                "cpuSeconds": 2.5,
                "oomKills": 1,
                "sources": {"memory": "cgroup-v2", "cpu": "cgroup-v2"},
            },
        )

    def test_cgroup_v1_gives_max_usage_and_cpuacct(self):
        # The numbers a pod on the test bed's real node read after allocating 64 MiB.
        write(self.cg + "/memory/memory.max_usage_in_bytes", "70393856\n")
        write(self.cg + "/memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
        write(self.cg + "/cpu,cpuacct/cpuacct.usage", "118328421\n")
        self.assertEqual(
            self.finish(self.v1_container()),
            {
                "peakMemoryBytes": 70393856,
                "cpuSeconds": 0.118,
                "oomKills": 0,
                "sources": {"memory": "cgroup-v1", "cpu": "cgroup-v1"},
            },
        )

    def test_a_v2_kernel_without_memory_peak_takes_memory_from_getrusage(self):
        write(self.cg + "/cpu.stat", "usage_usec 1000\n")
        got = self.finish(self.v2_container())
        self.assertEqual(got["sources"], {"memory": "rusage", "cpu": "cgroup-v2"})
        self.assertEqual(got["cpuSeconds"], 0.001)
        self.assertGreater(got["peakMemoryBytes"], MIB)

    def test_no_cgroup_files_fall_back_to_getrusage_of_the_runner_and_its_children(self):
        before = usage.rusage()
        subprocess.run([sys.executable, "-c", "b = b'x' * (96 * 1024 * 1024); sum(range(3_000_000))"], check=True)
        got = self.finish(self.v2_container())
        self.assertEqual(got["sources"], {"memory": "rusage", "cpu": "rusage"})
        self.assertNotIn("oomKills", got)
        # The child's 96 MiB count (the larger ru_maxrss of the runner and its waited-for children).
        self.assertGreaterEqual(got["peakMemoryBytes"], 96 * MIB)
        self.assertGreater(got["cpuSeconds"], before[1])

    def test_process_mode_never_reads_the_cgroup(self):
        write(self.cg + "/memory.peak", "1\n")
        write(self.cg + "/cpu.stat", "usage_usec 1\n")
        paths = self.v2_container()
        got = to_json(usage.Meter("process", proc_cgroup=paths["proc_cgroup"], mountinfo=paths["mountinfo"]).finish())
        self.assertEqual(got["sources"], {"memory": "rusage", "cpu": "rusage"})
        self.assertGreater(got["peakMemoryBytes"], 1)


class GpuTest(Fixture):
    """A fake nvidia-smi first on PATH: it checks it was asked the documented query, counts its calls
    and prints fixed CSV (another pod's GPU and a MIG device too, which must not count)."""

    def setUp(self):
        super().setUp()
        self.bin = os.path.join(self.dir, "bin")
        self.calls = os.path.join(self.dir, "calls")
        os.makedirs(self.bin)
        saved = os.environ["PATH"]
        os.environ["PATH"] = self.bin + os.pathsep + saved
        self.addCleanup(os.environ.__setitem__, "PATH", saved)

    def fake_smi(self, answer):
        check = '[ "$*" = "%s" ] || { echo "unexpected arguments: $*" >&2; exit 2; }' % " ".join(usage.GPU_QUERY)
        script = '#!/bin/sh\n%s\necho call >> "%s"\n%s\n' % (check, self.calls, answer)
        write(os.path.join(self.bin, "nvidia-smi"), script)
        os.chmod(os.path.join(self.bin, "nvidia-smi"), 0o755)

    def calls_made(self):
        try:
            with open(self.calls) as f:
                return len(f.read().splitlines())
        except OSError:
            return 0

    def sampled(self, environ, mode="container", samples=2):
        meter = usage.Meter(mode, environ=environ, interval=0.05)
        deadline = time.time() + 30
        while meter.gpu is not None and self.calls_made() < samples + 1 and time.time() < deadline:
            time.sleep(0.02)
        return to_json(meter.finish())

    def test_the_containers_whole_gpus_give_mean_and_peak_utilisation_and_peak_memory(self):
        rows = ["%s, 80, 1000" % GPU_A, "%s, 40, 3000" % GPU_B, "GPU-ffffffff-0000-0000-0000-000000000000, 100, 70000"]
        self.fake_smi("printf '%s\\n' " + " ".join("'%s'" % r for r in rows + ["%s, 50, 2000" % MIG]))
        got = self.sampled({"NVIDIA_VISIBLE_DEVICES": "%s,%s" % (GPU_A, GPU_B)})
        self.assertGreaterEqual(self.calls_made(), 2)
        self.assertEqual(got["gpuUtilizationMeanPercent"], 60)
        self.assertEqual(got["gpuUtilizationPeakPercent"], 80)
        self.assertEqual(got["gpuMemoryPeakBytes"], 4000 * MIB)
        self.assertEqual(got["sources"]["gpu"], "nvidia-smi")

    def test_mig_devices_unnamed_gpus_and_process_mode_sample_nothing(self):
        self.fake_smi("printf '%s\\n' '%s, 50, 2000'" % ("%s", GPU_A))
        for environ, mode in (
            ({"NVIDIA_VISIBLE_DEVICES": MIG}, "container"),
            ({"NVIDIA_VISIBLE_DEVICES": "all"}, "container"),
            ({}, "container"),
            ({"NVIDIA_VISIBLE_DEVICES": GPU_A}, "process"),
        ):
            got = self.sampled(environ, mode)
            self.assertNotIn("gpuUtilizationMeanPercent", got, environ)
            self.assertNotIn("gpu", got["sources"])
        self.assertEqual(self.calls_made(), 0)

    def test_a_failing_or_confused_nvidia_smi_records_nothing(self):
        for answer in ('echo "NVIDIA-SMI has failed" >&2; exit 9', "echo 'No devices were found'"):
            self.fake_smi(answer)
            got = self.sampled({"NVIDIA_VISIBLE_DEVICES": GPU_A})
            self.assertNotIn("gpuUtilizationMeanPercent", got)
            self.assertNotIn("gpuMemoryPeakBytes", got)
            self.assertGreater(got["peakMemoryBytes"], 0)

    def test_na_utilisation_keeps_memory(self):
        self.fake_smi("echo '%s, [N/A], 20123'" % GPU_A)
        got = self.sampled({"NVIDIA_VISIBLE_DEVICES": GPU_A})
        self.assertNotIn("gpuUtilizationMeanPercent", got)
        self.assertEqual(got["gpuMemoryPeakBytes"], 20123 * MIB)


class RunnerResultTest(unittest.TestCase):
    """The runner writes what it measured into result.json `usage`."""

    def test_result_json_carries_the_tasks_usage(self):
        root = tempfile.mkdtemp(prefix="cellpipe-usage-run-")
        self.addCleanup(shutil.rmtree, root, True)
        task = {
            "jobId": "j1",
            "taskId": "j1.big",
            "taskName": "big",
            "artifactRoot": root + "/artifacts",
            "outputDir": root + "/artifacts/big",
            "resultPath": root + "/result.json",
            "notebookPath": root + "/executed.ipynb",
            "workDir": root,
            "usage": "process",
            "cells": [{"index": 0, "source": "blob = b'x' * (64 * 1024 * 1024)\nx = sum(range(2_000_000))\n"}],
        }
        write(root + "/task.json", json.dumps(task))
        env = dict(os.environ, PYTHONPATH=RUNNER_DIR)
        run = subprocess.run(
            [sys.executable, "-m", "cellpipe_runner", root + "/task.json"], env=env, capture_output=True, text=True
        )
        self.assertEqual(run.returncode, 0, run.stderr)
        with open(root + "/result.json") as f:
            got = json.load(f)["usage"]
        self.assertGreaterEqual(got["peakMemoryBytes"], 64 * MIB)
        self.assertGreater(got["cpuSeconds"], 0)
        self.assertEqual(got["sources"], {"memory": "rusage", "cpu": "rusage"})


if __name__ == "__main__":
    unittest.main()

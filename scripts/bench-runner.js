// Task runner overhead: what the runner (server/runner/, built into a zipapp here) adds to every task.
//
// Baselines measured in the same run: `python3 -c pass` (interpreter start) and `python3 code.py`
// running the same code the task's cell runs. The runner is timed on one-cell tasks without and with
// a passed variable, as the zipapp the build makes (bytecode for this Python inside) and as one
// without bytecode (what any other Python version reads), and for how quickly SIGTERM turns into a
// cancelled result.json (during a sleep and during a long native call that holds no GIL). The cost of
// fingerprinting a read-only input is measured against pickling the same value.
//
//   node scripts/bench-runner.js          prints the JSON on its own
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const RUNNER_SOURCES = join(here, '..', 'server', 'runner');
const PYTHON = process.env.CELLPIPE_BENCH_PYTHON || 'python3';
// The optional kernel engine is timed where the project venv (scripts/python-env.sh) has ipykernel.
const KERNEL_PYTHON = process.env.CELLPIPE_BENCH_KERNEL_PYTHON || join(here, '..', '.venv', 'bin', 'python');
const CELL = 'rows = [i * i for i in range(10000)]\ntotal = sum(rows)\nprint(total)\n';

// Runs each variant `runs` times, interleaved so load from other processes hits them alike, and
// reports per-run wall time and CPU time (user + sys of the child, from wait4: what the runner costs
// the machine, and steadier than wall time on a shared box). A variant is a list of commands run
// one after the other.
const HARNESS = `
import json, os, shutil, sys, time
variants, runs = json.loads(sys.argv[1]), int(sys.argv[2])
out = {name: {"wall": [], "cpu": []} for name in variants}
devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
for _ in range(runs):
    for name, commands in variants.items():
        wall = cpu = 0.0
        for argv in commands:
            exe = shutil.which(argv[0])
            t = time.perf_counter()
            pid = os.posix_spawn(exe, argv, os.environ, file_actions=devnull)
            _, status, ru = os.wait4(pid, 0)
            wall += time.perf_counter() - t
            cpu += ru.ru_utime + ru.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit("%s exited %d" % (" ".join(argv), os.waitstatus_to_exitcode(status)))
        out[name]["wall"].append(wall * 1000)
        out[name]["cpu"].append(cpu * 1000)
print(json.dumps(out))
`;

function measure(variants, runs, cwd) {
  const r = spawnSync(PYTHON, ['-c', HARNESS, JSON.stringify(variants), String(runs)], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench harness failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const round = (x) => Math.round(x * 100) / 100;

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: round(at(0.5)), p90: round(at(0.9)), min: round(s[0]), n: s.length };
}

function taskJson(dir, name, fields) {
  const art = join(dir, 'artifacts');
  const run = join(dir, 'runs', name);
  mkdirSync(run, { recursive: true });
  const task = {
    jobId: 'bench',
    taskId: `bench-${name}`,
    taskName: name,
    attempt: 1,
    setup: [],
    cells: [],
    cellOffset: 1,
    kind: 'cells',
    inputs: [],
    outputs: [],
    parameters: {},
    parametersCell: null,
    artifactRoot: art,
    outputDir: join(art, name),
    resultPath: join(run, 'result.json'),
    notebookPath: join(run, 'executed.ipynb'),
    ...fields,
  };
  const path = join(run, 'task.json');
  writeFileSync(path, JSON.stringify(task));
  return { path, task };
}

/** Milliseconds from SIGTERM to the runner's exit with a cancelled result.json. */
function cancelLatencyMs(runner, dir, name, source) {
  const { path, task } = taskJson(dir, name, { cells: [{ index: 0, source }] });
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [runner, path], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sentAt = 0n;
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      if (!sentAt && out.includes('ready\n')) {
        // Let the cell get into the call that is to be interrupted.
        setTimeout(() => {
          sentAt = process.hrtime.bigint();
          child.kill('SIGTERM');
        }, 200);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - sentAt) / 1e6;
      const result = JSON.parse(readFileSync(task.resultPath, 'utf8'));
      if (code !== 143 || result.status !== 'cancelled') {
        reject(new Error(`${name}: exit ${code}, status ${result.status}`));
      } else resolve(ms);
    });
  });
}

// Fingerprint of a read-only input vs pickling it (what the upstream task paid to save it), and
// the runner's own pickling of outputs (pickling.py: cloudpickle's Pickler, whose reducer_override
// sees every object that is not a builtin) vs pickle's, in ms.
const FINGERPRINT = `
import datetime, io, json, pickle, sys, time
sys.path.insert(0, sys.argv[1])
from cellpipe_runner.fingerprint import fingerprint
from cellpipe_runner.pickling import dump
values = {
    "bytes100MB": lambda: bytes(range(256)) * (100 * 4096),
    "dict1M": lambda: {"key%d" % i: [i, float(i), str(i)] for i in range(1000000)},
    "list10kSmallDicts": lambda: [{"a": i, "b": "x" * 20} for i in range(10000)],
    "list100kDatetimes": lambda: [datetime.datetime(2020, 1, 1, 0, 0, i % 60) for i in range(100000)],
}
out = {}
for name, make in values.items():
    value = make()
    fp, pk, rp = [], [], []
    for _ in range(3):
        t = time.process_time(); fingerprint(value); fp.append((time.process_time() - t) * 1000)
        t = time.process_time(); pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL); pk.append((time.process_time() - t) * 1000)
        t = time.process_time(); dump(value, io.BytesIO(), frozenset(), protocol=pickle.HIGHEST_PROTOCOL); rp.append((time.process_time() - t) * 1000)
    out[name] = {"fingerprintCpuMs": sorted(fp)[1], "pickleCpuMs": sorted(pk)[1], "outputCpuMs": sorted(rp)[1]}
    del value
print(json.dumps(out))
`;

function buildRunner(out, extra = []) {
  const r = spawnSync(PYTHON, [join(RUNNER_SOURCES, 'build.py'), out, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the runner failed: ${r.stderr}`);
  return out;
}

function fingerprintCost() {
  const r = spawnSync(PYTHON, ['-c', FINGERPRINT, RUNNER_SOURCES], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fingerprint bench failed: ${r.stderr}`);
  const raw = JSON.parse(r.stdout);
  const out = {};
  for (const [name, m] of Object.entries(raw)) {
    out[name] = {
      ...m,
      fingerprintVsPickle: round(m.fingerprintCpuMs / m.pickleCpuMs),
      outputVsPickle: round(m.outputCpuMs / m.pickleCpuMs),
    };
  }
  return out;
}

export async function benchRunner({ runs = 15 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-bench-runner-'));
  try {
    const RUNNER = buildRunner(join(dir, 'cellpipe_runner.pyz'));
    const RUNNER_NO_BYTECODE = buildRunner(join(dir, 'sources.pyz'), ['--no-bytecode']);
    const script = join(dir, 'code.py');
    writeFileSync(script, CELL);
    const plainTask = taskJson(dir, 'plain', { cells: [{ index: 0, source: CELL }] });
    const ioUp = taskJson(dir, 'up', { cells: [{ index: 0, source: CELL }], outputs: ['rows', 'total'] });
    const ioDown = taskJson(dir, 'down', {
      inputs: [
        { name: 'rows', from: 'up' },
        { name: 'total', from: 'up' },
      ],
      cells: [{ index: 0, source: 'assert sum(rows) == total\nprint(total)\n' }],
      outputs: ['total'],
    });
    const setupTask = taskJson(dir, 'many', {
      setup: [{ index: 0, source: 'import os' }],
      cells: Array.from({ length: 20 }, (_, i) => ({ index: i + 1, source: `x${i} = ${i}\nx${i}` })),
      parameters: { p: 1 },
    });

    // What a Python other than the build's pays at every start: compiling the runner's modules.
    const compileMs = spawnSync(
      PYTHON,
      [
        '-c',
        'import glob, os, sys, time\nsrcs = [open(p).read() for p in glob.glob(os.path.join(sys.argv[1], "cellpipe_runner", "*.py"))]\nfor _ in range(7):\n    t = time.process_time()\n    for s in srcs: compile(s, "r", "exec")\n    print((time.process_time() - t) * 1000)',
        RUNNER_SOURCES,
      ],
      { encoding: 'utf8' },
    );
    const variants = {
      pythonPass: [[PYTHON, '-c', 'pass']],
      plainScript: [[PYTHON, script]],
      runnerOneCell: [[PYTHON, RUNNER, plainTask.path]],
      runnerNoBytecodeOneCell: [[PYTHON, RUNNER_NO_BYTECODE, plainTask.path]],
      runnerTwoTasksPassingVariables: [
        [PYTHON, RUNNER, ioUp.path],
        [PYTHON, RUNNER, ioDown.path],
      ],
      runnerTwentyCellsSetupParameters: [[PYTHON, RUNNER, setupTask.path]],
    };
    measure(variants, 1, dir); // warm the page cache and the .pyc files
    const raw = measure(variants, runs, dir);
    const wall = {};
    const cpu = {};
    for (const [name, m] of Object.entries(raw)) {
      wall[name] = stats(m.wall);
      cpu[name] = stats(m.cpu);
    }
    const overhead = (t) => ({
      vsPythonPass: round(t.runnerOneCell.median - t.pythonPass.median),
      vsPlainScript: round(t.runnerOneCell.median - t.plainScript.median),
      perTaskPassingVariables: round(t.runnerTwoTasksPassingVariables.median / 2 - t.plainScript.median),
      twentyCellsVsOneCell: round(t.runnerTwentyCellsSetupParameters.median - t.runnerOneCell.median),
      noBytecodeVsPlainScript: round(t.runnerNoBytecodeOneCell.median - t.plainScript.median),
    });

    const cancelSleep = [];
    const cancelNative = [];
    for (let i = 0; i < 3; i++) {
      cancelSleep.push(
        await cancelLatencyMs(RUNNER, dir, `sleep${i}`, 'import time\nprint("ready", flush=True)\ntime.sleep(60)\n'),
      );
      cancelNative.push(
        await cancelLatencyMs(
          RUNNER,
          dir,
          `native${i}`,
          // zlib releases the GIL while it compresses: only the runner's wakeup-fd thread can act.
          'import zlib\ndata = bytes(range(256)) * 1_000_000\nprint("ready", flush=True)\nfor _ in range(100): zlib.compress(data, 9)\n',
        ),
      );
    }

    let kernelEngine;
    if (
      existsSync(KERNEL_PYTHON) &&
      spawnSync(KERNEL_PYTHON, ['-c', 'import jupyter_client, ipykernel']).status === 0
    ) {
      const kernelTask = taskJson(dir, 'kernel', {
        engine: 'kernel',
        cells: [{ index: 0, source: CELL }],
        outputs: ['total'],
      });
      const k = measure(
        {
          kernelOneCell: [[KERNEL_PYTHON, RUNNER, kernelTask.path]],
          stdlibOneCell: [[KERNEL_PYTHON, RUNNER, plainTask.path]],
        },
        3,
        dir,
      );
      kernelEngine = {
        note: 'cpu covers the runner process only, not the kernel it starts',
        wallMs: { kernelOneCell: stats(k.kernelOneCell.wall), stdlibOneCell: stats(k.stdlibOneCell.wall) },
        cpuMs: { kernelOneCell: stats(k.kernelOneCell.cpu), stdlibOneCell: stats(k.stdlibOneCell.cpu) },
      };
    }

    const version = spawnSync(PYTHON, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' });
    return {
      python: version.stdout.trim(),
      runs,
      unit: 'ms per task process (median, p90, min over runs)',
      wallMs: wall,
      cpuMs: cpu,
      overheadMs: { wall: overhead(wall), cpu: overhead(cpu) },
      // CPU time compiling all of the runner's modules (what the zipapp's bytecode saves; a task
      // imports only some of them).
      compileRunnerSourcesCpuMs: stats(compileMs.stdout.trim().split('\n').map(Number)),
      ratio: {
        runnerVsPythonPassWall: round(wall.runnerOneCell.median / wall.pythonPass.median),
        runnerVsPlainScriptWall: round(wall.runnerOneCell.median / wall.plainScript.median),
        runnerVsPlainScriptCpu: round(cpu.runnerOneCell.median / cpu.plainScript.median),
      },
      cancelLatencyMs: { duringSleep: stats(cancelSleep), duringNativeCall: stats(cancelNative) },
      fingerprint: fingerprintCost(),
      ...(kernelEngine ? { kernelEngine } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchRunner(), null, 2));
}

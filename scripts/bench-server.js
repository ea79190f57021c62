// Server engine benchmarks (uses the built server/dist; run `npm run build` first).
//  - per-task overhead of the local executor: a chain of no-op tasks through the whole engine
//    (SQLite commits, task.json, spawn, runner, result.json) vs the same code run with plain python3,
//    and the runner alone, so the overhead can be split between runner and engine;
//  - a 1,000-task no-op DAG in a separate engine process: wall time and the process's peak RSS.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'server', 'dist');
const API = 'cellpipe.io/v1';
const { PipelineSchema } = await import('@cellpipe/schema');

/** A notebook of code cells (also used by the other server-side benchmarks). */
export function notebook(cells) {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: {},
      source,
      outputs: [],
      execution_count: null,
    })),
  });
}

/** tasks: [{name, dependsOn}] all running cell 0 (`pass`). */
// Parsed as a submitted request is, so the spec carries every default the schema adds.
function pipelineRequest(name, tasks, spec = {}) {
  return {
    pipeline: PipelineSchema.parse({
      apiVersion: API,
      kind: 'Pipeline',
      metadata: { name },
      spec: {
        source: { notebook: 'bench.ipynb' },
        failurePolicy: 'continue',
        ...spec,
        tasks: tasks.map((t) => ({ name: t.name, cells: [0], dependsOn: t.dependsOn ?? [], retries: 0 })),
      },
    }),
    files: { 'bench.ipynb': notebook(['pass']) },
  };
}

/** CPU time (ms) of this process and of its waited-for children, from /proc/self/stat (Linux). */
function cpuNow() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16/17 (cutime/cstime) in clock ticks; USER_HZ is 100 on Linux.
  const children = ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  const self = process.cpuUsage();
  return { self: (self.user + self.system) / 1000, children };
}
const cpuSince = (a) => {
  const b = cpuNow();
  return b.self - a.self + (b.children - a.children);
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function timeSpawns(argv, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
    times.push(performance.now() - t);
  }
  return times;
}

async function perTaskOverhead(tasks = 10, rounds = 3) {
  const { createJobService } = await import(join(dist, 'engine.js'));
  const { LocalExecutor } = await import(join(dist, 'executors', 'local', 'local-executor.js'));
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-'));
  const service = createJobService({ home, executor: new LocalExecutor() });
  await service.start();
  try {
    const waitDone = (id) =>
      new Promise((resolve) => {
        const on = (s) => {
          if (s.id === id && ['succeeded', 'failed', 'cancelled'].includes(s.state)) {
            service.events.off('job', on);
            resolve(s);
          }
        };
        service.events.on('job', on);
      });
    // Warm-up (page cache, python bytecode of the runner).
    const warm = await service.submit('bench', pipelineRequest('warm', [{ name: 't0' }]));
    await waitDone(warm.id);
    const code = join(home, 'code.py');
    writeFileSync(code, 'pass\n');
    const runnerPath = join(here, '..', 'server', 'dist', 'cellpipe_runner.pyz');
    const m = { engineWall: [], engineCpu: [], plainWall: [], plainCpu: [], runnerWall: [], runnerCpu: [] };
    // Rounds interleave the three so load from elsewhere on the machine hits them alike.
    for (let r = 0; r < rounds; r++) {
      const chain = Array.from({ length: tasks }, (_, i) => ({ name: `t${i}`, dependsOn: i ? [`t${i - 1}`] : [] }));
      let cpu = cpuNow();
      const t0 = performance.now();
      const job = await service.submit('bench', pipelineRequest('chain', chain));
      const done = await waitDone(job.id);
      m.engineWall.push((performance.now() - t0) / tasks);
      m.engineCpu.push(cpuSince(cpu) / tasks);
      if (done.state !== 'succeeded') throw new Error(`bench chain ${done.state}: ${done.error}`);
      cpu = cpuNow();
      m.plainWall.push(median(timeSpawns(['python3', code], tasks)));
      m.plainCpu.push(cpuSince(cpu) / tasks);
      const taskJson = join(home, 'jobs', job.id, 'tasks', 't0', 'attempt-1', 'task.json');
      cpu = cpuNow();
      m.runnerWall.push(median(timeSpawns(['python3', runnerPath, taskJson], tasks)));
      m.runnerCpu.push(cpuSince(cpu) / tasks);
    }
    const r1 = (x) => +x.toFixed(1);
    const med = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
    return {
      tasksPerRound: tasks,
      rounds,
      wall: {
        enginePerTaskMs: r1(med.engineWall),
        plainPython3PerTaskMs: r1(med.plainWall),
        runnerAlonePerTaskMs: r1(med.runnerWall),
        overheadPerTaskMs: r1(med.engineWall - med.plainWall),
        overheadOfRunnerMs: r1(med.runnerWall - med.plainWall),
        overheadOfEngineMs: r1(med.engineWall - med.runnerWall),
      },
      // CPU time (server + task processes) is what the overhead costs; it is also steadier than wall
      // time on a shared machine.
      cpu: {
        enginePerTaskMs: r1(med.engineCpu),
        plainPython3PerTaskMs: r1(med.plainCpu),
        runnerAlonePerTaskMs: r1(med.runnerCpu),
        overheadPerTaskMs: r1(med.engineCpu - med.plainCpu),
        overheadOfRunnerMs: r1(med.runnerCpu - med.plainCpu),
        overheadOfEngineMs: r1(med.engineCpu - med.runnerCpu),
      },
      targetMs: 150,
      metByWall: med.engineWall - med.plainWall <= 150,
      metByCpu: med.engineCpu - med.plainCpu <= 150,
      loadAverage1m: +loadavg()[0].toFixed(2),
    };
  } finally {
    await service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** Peak resident set of a live process (VmHWM), in MiB. */
function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +(Number(m[1]) / 1024).toFixed(1) : undefined;
}

async function bigDag(total = 1000, width = 100, maxParallel = 4) {
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-dag-'));
  const child = fork(join(dist, 'engine-process.js'), ['--home', home, '--gpus', ''], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    await new Promise((resolve, reject) => {
      child.on('message', (m) => m.type === 'ready' && resolve());
      child.once('exit', (c) => reject(new Error(`engine exited ${c}`)));
    });
    const idleRss = peakRssMiB(child.pid);
    // Layers of `width` tasks; each task depends on two tasks of the previous layer.
    const tasks = Array.from({ length: total }, (_, i) => {
      const layer = Math.floor(i / width);
      const pos = i % width;
      const dependsOn = layer
        ? [...new Set([`n${(layer - 1) * width + pos}`, `n${(layer - 1) * width + ((pos + 1) % width)}`])]
        : [];
      return { name: `n${i}`, dependsOn };
    });
    const t0 = performance.now();
    const finished = new Promise((resolve) => {
      child.on('message', (m) => {
        if (m.type === 'job' && ['succeeded', 'failed', 'cancelled'].includes(m.job.state)) resolve(m.job);
      });
    });
    child.send({ type: 'submit', id: 1, owner: 'bench', request: pipelineRequest('dag', tasks, { maxParallel }) });
    const job = await finished;
    const wallMs = performance.now() - t0;
    const peak = peakRssMiB(child.pid);
    let failures;
    if (job.state !== 'succeeded') {
      const { SqliteStore } = await import(join(dist, 'store', 'sqlite-store.js'));
      const store = new SqliteStore(join(home, 'cellpipe.db'));
      failures = store
        .getTasks(job.id)
        .filter((t) => t.state === 'failed')
        .slice(0, 5)
        .map((t) => ({ task: t.name, exitCode: t.exitCode, error: t.error }));
      store.close();
    }
    return {
      tasks: total,
      layers: total / width,
      maxParallel,
      state: job.state,
      succeeded: job.taskCounts.succeeded,
      wallMs: Math.round(wallMs),
      perTaskMs: +(wallMs / total).toFixed(1),
      engineIdleRssMiB: idleRss,
      enginePeakRssMiB: peak,
      loadAverage1m: +loadavg()[0].toFixed(2),
      ...(failures ? { failures } : {}),
    };
  } finally {
    child.disconnect();
    await new Promise((r) => child.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }
}

export async function benchServer() {
  return {
    perTask: await perTaskOverhead(),
    dag1000: await bigDag(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchServer(), null, 2));
}

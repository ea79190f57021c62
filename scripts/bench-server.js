// Server engine benchmarks (uses the built server/dist; run `npm run build` first).
//  - per-task overhead of the local executor: a chain of no-op tasks through the whole engine
//    (SQLite commits, task.json, spawn, runner, result.json) vs the same code run with plain python3,
//    and the runner alone, so the overhead can be split between runner and engine;
//  - a 1,000-task no-op DAG in a separate engine process: wall time and the process's peak RSS.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'server', 'dist');
const API = 'cellpipe.io/v1';

function notebook(cells) {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null })),
  });
}

/** tasks: [{name, dependsOn}] all running cell 0 (`pass`). */
function pipelineRequest(name, tasks, spec = {}) {
  return {
    pipeline: {
      apiVersion: API,
      kind: 'Pipeline',
      metadata: { name },
      spec: {
        source: { notebook: 'bench.ipynb' },
        setupCells: [],
        parameters: {},
        defaults: {},
        failurePolicy: 'continue',
        ...spec,
        tasks: tasks.map((t) => ({
          name: t.name,
          source: { kind: 'cells' },
          cells: [0],
          dependsOn: t.dependsOn ?? [],
          inputs: [],
          outputs: [],
          resources: {},
          env: {},
          retries: 0,
        })),
      },
    },
    files: { 'bench.ipynb': notebook(['pass']) },
  };
}

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

async function perTaskOverhead(tasks = 20) {
  const { JobService } = await import(join(dist, 'jobs', 'job-service.js'));
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-'));
  const service = new JobService({ home, gpus: '' });
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
    const chain = Array.from({ length: tasks }, (_, i) => ({ name: `t${i}`, dependsOn: i ? [`t${i - 1}`] : [] }));
    const t0 = performance.now();
    const job = await service.submit('bench', pipelineRequest('chain', chain));
    const done = await waitDone(job.id);
    const engineMs = performance.now() - t0;
    if (done.state !== 'succeeded') throw new Error(`bench chain ${done.state}: ${done.error}`);
    // Baselines on the same machine, same moment: the code with plain python3, and the runner alone.
    const code = join(home, 'code.py');
    writeFileSync(code, 'pass\n');
    const plain = timeSpawns(['python3', code], tasks);
    const taskJson = join(home, 'jobs', job.id, 'tasks', 't0', 'attempt-1', 'task.json');
    const runner = timeSpawns(['python3', join(here, '..', 'server', 'runner', 'cellpipe_runner.py'), taskJson], tasks);
    const enginePerTask = engineMs / tasks;
    const plainPerTask = median(plain);
    const runnerPerTask = median(runner);
    return {
      tasks,
      enginePerTaskMs: +enginePerTask.toFixed(1),
      plainPython3PerTaskMs: +plainPerTask.toFixed(1),
      runnerAlonePerTaskMs: +runnerPerTask.toFixed(1),
      overheadPerTaskMs: +(enginePerTask - plainPerTask).toFixed(1),
      overheadOfRunnerMs: +(runnerPerTask - plainPerTask).toFixed(1),
      overheadOfEngineMs: +(enginePerTask - runnerPerTask).toFixed(1),
      targetMs: 150,
      ratioToPlainPython3: +(enginePerTask / plainPerTask).toFixed(2),
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
  const child = fork(join(dist, 'jobs', 'engine-process.js'), ['--home', home, '--gpus', ''], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
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
      const dependsOn = layer ? [...new Set([`n${(layer - 1) * width + pos}`, `n${(layer - 1) * width + ((pos + 1) % width)}`])] : [];
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
    return {
      tasks: total,
      layers: total / width,
      maxParallel,
      state: job.state,
      succeeded: job.taskCounts.succeeded,
      wallMs: Math.round(wallMs),
      perTaskMs: +(wallMs / total).toFixed(1),
      engineIdleRssMiB: idleRss,
      enginePeakRssMiB: peakRssMiB(child.pid),
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

// Kubernetes executor benchmarks against the testbed (real kube-apiserver, controller-manager,
// scheduler; kwok nodes). Uses the built server/dist (`npm run build` first).
//  (a) submit: 1,000 independent tasks started through the KubernetesExecutor until every pod
//      exists, against a baseline in the same run: 1,000 plain Jobs created directly with the client
//      (over the same pooled connections as the executor's) until every pod exists. Pods are kept
//      Pending (a nodeSelector no node has) so only creation is measured.
//  (b) memory: an executor in its own process (as in the server) tracking LIVE tasks whose pods
//      run on extra kwok nodes; its RSS and heap once every task is running, against the same
//      process with the executor's watches started and no task.
// Brings a bed up in a temporary directory (or uses CELLPIPE_K8S_TESTBED_DIR) and tears it down.
// CELLPIPE_BENCH_K8S_TASKS (default 1000) and CELLPIPE_BENCH_K8S_LIVE (default 10000) change the sizes;
// CELLPIPE_BENCH_K8S_LIVE_SECONDS (default 300) bounds the memory phase: it reports how far it got.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'k8s-testbed.sh');
const dist = join(here, '..', 'server', 'dist');
const runnerPath = join(here, '..', 'server', 'dist', 'cellpipe_runner.pyz');
const CONCURRENCY = 32;
/** The nodeSelector of pods that must stay Pending, and of the bench's own kwok nodes. */
const BENCH_LABEL = 'bench.cellpipe.io/pool';
const PODS_PER_NODE = 500;

const k8s = await import('@kubernetes/client-node');
const distModule = (file) => import(pathToFileURL(join(dist, 'executors', 'kubernetes', file)).href);
const loadExecutor = async () => (await distModule('executor.js')).KubernetesExecutor;

function bed(args, timeoutMs) {
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`k8s-testbed.sh ${args.join(' ')} failed:\n${r.stderr}`);
}

function gcNow() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  gc();
  gc();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Runs fn(0..n-1) with at most `limit` calls in flight. */
async function pool(n, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function createNamespace(kc, prefix) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  for (let i = 0; ; i++) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return name;
    } catch (err) {
      if (i > 300) throw err;
      await sleep(100);
    }
  }
}

/**
 * Resolves once `n` distinct pods exist in the namespace (one watch, opened before any is created).
 * The apiserver may end a watch that falls behind; it is then reopened, replaying what exists.
 */
async function podsCreated(kc, namespace, n) {
  const seen = new Set();
  let resolveAll;
  let finished = false;
  let controller;
  const all = new Promise((r) => (resolveAll = r));
  const open = async () => {
    controller = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (phase, pod) => {
        if (phase !== 'ADDED') return;
        seen.add(pod.metadata.name);
        if (seen.size >= n && !finished) {
          finished = true;
          resolveAll(Date.now());
        }
      },
      () => {
        if (!finished) setTimeout(() => void open(), 100);
      },
    );
  };
  await open();
  return {
    done: all.finally(() => controller.abort()),
    count: () => seen.size,
  };
}

function launchSpec(workDir, jobId, taskName, resources) {
  const taskDir = join(workDir, jobId, taskName);
  return {
    jobId,
    taskName,
    taskId: `${jobId}.${taskName}`,
    attempt: 1,
    owner: 'bench@example.org',
    resources,
    env: {},
    taskDir,
    payload: { 'task.json': JSON.stringify({ task: taskName, cells: ['pass'] }) },
    logPath: join(taskDir, 'log.txt'),
    resultPath: join(taskDir, 'result.json'),
    artifactRoot: join(workDir, jobId, 'artifacts'),
  };
}

// ------------------------------------------------------------------ (a) submit 1,000 tasks

async function benchSubmit(kc, tasks) {
  const clients = (await distModule('api-clients.js')).pooledApiClients(kc);
  const batch = clients.make(k8s.BatchV1Api);
  const nowhere = { [BENCH_LABEL]: 'nowhere' };

  // Baseline: the same number of plain Jobs created directly, same concurrency.
  const baseNs = await createNamespace(kc, 'bench-base');
  const basePods = await podsCreated(kc, baseNs, tasks);
  const baseStart = Date.now();
  await pool(tasks, CONCURRENCY, (i) =>
    batch.createNamespacedJob({
      namespace: baseNs,
      body: {
        metadata: { name: `plain-${i}`, labels: { bench: 'baseline' } },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { bench: 'baseline' } },
            spec: {
              restartPolicy: 'Never',
              nodeSelector: nowhere,
              containers: [{ name: 'task', image: 'python:3.11-slim', command: ['python3', '-c', 'pass'] }],
            },
          },
        },
      },
    }),
  );
  const baseCreated = Date.now();
  const basePodsAt = await basePods.done;
  clients.close();

  // The executor: start() per task (owner ConfigMap once, a Job and a payload ConfigMap per task).
  const KubernetesExecutor = await loadExecutor();
  const execNs = await createNamespace(kc, 'bench-exec');
  const workDir = mkdtempSync(join(tmpdir(), 'cellpipe-bench-k8s-'));
  const executor = new KubernetesExecutor({
    kubeConfig: kc,
    config: { namespace: execNs, nodeSelector: nowhere, checkNodeCapacity: false },
    runnerArchive: readFileSync(runnerPath),
    warn: () => undefined,
  });
  try {
    await executor.inventory(); // watches started, as in a running server
    const execPods = await podsCreated(kc, execNs, tasks);
    const jobId = `bench${Date.now().toString(36)}`;
    const execStart = Date.now();
    await pool(tasks, CONCURRENCY, (i) =>
      executor.start(launchSpec(workDir, jobId, `t${i}`, { cpu: '100m' }), () => undefined),
    );
    const execSubmitted = Date.now();
    const execPodsAt = await execPods.done;
    const baseline = { createMs: baseCreated - baseStart, allPodsMs: basePodsAt - baseStart };
    const executorMs = { submitMs: execSubmitted - execStart, allPodsMs: execPodsAt - execStart };
    return {
      tasks,
      concurrency: CONCURRENCY,
      baselinePlainJobs: baseline,
      executor: executorMs,
      ratioSubmitToBaselineCreate: Math.round((executorMs.submitMs / baseline.createMs) * 100) / 100,
      ratioAllPodsToBaseline: Math.round((executorMs.allPodsMs / baseline.allPodsMs) * 100) / 100,
      targetAllPodsMs: 3000,
      namespaces: [baseNs, execNs],
    };
  } finally {
    await executor.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ (b) memory with live tasks

async function addBenchNodes(kc, live) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const count = Math.ceil(live / PODS_PER_NODE);
  const names = [];
  const capacity = { cpu: '1000', memory: '4Ti', pods: String(PODS_PER_NODE), 'ephemeral-storage': '1Ti' };
  for (let i = 0; i < count; i++) {
    const name = `bench-live-${i}`;
    names.push(name);
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, type: 'kwok', [BENCH_LABEL]: 'live' },
        },
        status: { capacity, allocatable: capacity },
      },
    });
  }
  for (let i = 0; ; i++) {
    const nodes = await core.listNode({ labelSelector: `${BENCH_LABEL}=live` });
    const ready = nodes.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length >= count) return names;
    if (i > 600) throw new Error(`bench nodes not Ready (${ready.length}/${count})`);
    await sleep(100);
  }
}

function runLiveChild(kubeconfig, namespace, live, deadlineMs) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--live-child'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, CELLPIPE_BENCH_LIVE: JSON.stringify({ kubeconfig, namespace, live, deadlineMs }) },
    });
    let result;
    child.on('message', (m) => {
      if (m.type === 'result') {
        result = m.result;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`live child exited with ${code}`))));
  });
}

/** The child: an executor tracking `live` long-running tasks; reports its memory once all run. */
async function liveChild() {
  const { kubeconfig, namespace, live, deadlineMs } = JSON.parse(process.env.CELLPIPE_BENCH_LIVE);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const KubernetesExecutor = await loadExecutor();
  const workDir = mkdtempSync(join(tmpdir(), 'cellpipe-bench-live-'));
  const executor = new KubernetesExecutor({
    kubeConfig: kc,
    config: { namespace, nodeSelector: { [BENCH_LABEL]: 'live' }, checkNodeCapacity: false },
    runnerArchive: readFileSync(runnerPath),
    podAnnotations: () => ({ 'testbed.cellpipe.io/delay': '3600s' }),
    warn: () => undefined,
  });
  await executor.inventory();
  gcNow();
  const idle = process.memoryUsage();
  const running = new Set();
  const seenPod = new Set();
  const ended = new Set();
  const waitingReason = new Map();
  const jobId = `live${Date.now().toString(36)}`;
  const started = Date.now();
  const samples = [];
  let submitted = 0;
  const sample = () => {
    gcNow();
    const m = process.memoryUsage();
    samples.push({
      atMs: Date.now() - started,
      started: submitted,
      podsSeen: seenPod.size,
      running: running.size,
      rssMB: mb(m.rss),
      heapUsedMB: mb(m.heapUsed),
    });
  };
  // Submitted in steps of 1,000 with a sample after each; a step is not begun past the deadline,
  // so on a slow machine the result says how far it got instead of running on.
  const step = Math.min(1000, live);
  while (submitted < live && Date.now() - started < deadlineMs) {
    const base = submitted;
    const n = Math.min(step, live - submitted);
    await pool(n, CONCURRENCY, (k) => {
      const i = base + k;
      return executor.start(launchSpec(workDir, jobId, `t${i}`, { cpu: '10m' }), (e) => {
        if (e.type === 'waiting' || e.type === 'running') seenPod.add(i);
        if (e.type === 'waiting') waitingReason.set(i, e.reason);
        else waitingReason.delete(i);
        if (e.type === 'running') running.add(i);
        if (e.type === 'exited') ended.add(i);
      });
    });
    submitted += n;
    sample();
  }
  const submitMs = Date.now() - started;
  // Then wait (within the deadline) for the pods to run.
  while (running.size < submitted && Date.now() - started < deadlineMs) await sleep(1000);
  sample();
  const last = samples.at(-1);
  // Per tracked task: the heap is what the executor keeps (caches, tracking); RSS adds the
  // allocator's and TLS buffers' slack, which moves with connection churn more than with the tasks.
  const perTask = (now, before) => (submitted > 0 ? Math.round(((now - before) * 1024) / submitted) : null);
  const heapPerTaskKB = perTask(last.heapUsedMB, mb(idle.heapUsed));
  const rssPerTaskKB = perTask(last.rssMB, mb(idle.rss));
  const at10000 = (base, kb) => (kb === null ? null : Math.round(base + (kb * 10000) / 1024));
  process.send({
    type: 'result',
    result: {
      liveTasksTarget: live,
      tracked: submitted,
      running: running.size,
      endedEarly: ended.size,
      submitMs,
      allRunningMs: running.size >= submitted ? last.atMs : null,
      idle: { rssMB: mb(idle.rss), heapUsedMB: mb(idle.heapUsed) },
      tracking: { rssMB: last.rssMB, heapUsedMB: last.heapUsedMB },
      deltaRssMB: Math.round((last.rssMB - mb(idle.rss)) * 10) / 10,
      heapPerTrackedTaskKB: heapPerTaskKB,
      rssPerTrackedTaskKB: rssPerTaskKB,
      extrapolatedTo10000: {
        heapUsedMB: at10000(mb(idle.heapUsed), heapPerTaskKB),
        rssMB: at10000(mb(idle.rss), rssPerTaskKB),
      },
      openFds: readdirSync('/proc/self/fd').length,
      waitingReasons: [...waitingReason.values()].reduce((acc, r) => {
        const k = r.slice(0, 120);
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {}),
      samples,
      targetRssMB: 300,
    },
  });
  rmSync(workDir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ entry

export async function benchKubernetes() {
  const tasks = Number(process.env.CELLPIPE_BENCH_K8S_TASKS ?? 1000);
  const live = Number(process.env.CELLPIPE_BENCH_K8S_LIVE ?? 10000);
  const liveDeadlineMs = Number(process.env.CELLPIPE_BENCH_K8S_LIVE_SECONDS ?? 300) * 1000;
  const shared = process.env.CELLPIPE_K8S_TESTBED_DIR;
  const dir = shared ?? mkdtempSync(join(tmpdir(), 'cellpipe-bench-bed-'));
  const started = Date.now();
  bed(['build'], 90 * 60 * 1000);
  bed(['up', dir], 5 * 60 * 1000);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(join(dir, 'kubeconfig'));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const cleanup = { namespaces: [], nodes: [] };
  try {
    const submit = await benchSubmit(kc, tasks);
    cleanup.namespaces.push(...submit.namespaces);
    delete submit.namespaces;
    // The submit bench's objects would only add load to the memory bench.
    for (const ns of cleanup.namespaces.splice(0)) await core.deleteNamespace({ name: ns });
    cleanup.nodes = await addBenchNodes(kc, live);
    const liveNs = await createNamespace(kc, 'bench-live');
    cleanup.namespaces.push(liveNs);
    const memory = await runLiveChild(join(dir, 'kubeconfig'), liveNs, live, liveDeadlineMs);
    return {
      bed: shared ? 'CELLPIPE_K8S_TESTBED_DIR' : 'temporary',
      loadavg1mAtEnd: Math.round(loadavg()[0] * 100) / 100,
      submit,
      memory,
      totalMs: Date.now() - started,
    };
  } finally {
    if (shared) {
      for (const ns of cleanup.namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
      for (const name of cleanup.nodes) await core.deleteNode({ name }).catch(() => undefined);
    } else {
      bed(['down', dir], 2 * 60 * 1000);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv.includes('--live-child')) {
  await liveChild();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchKubernetes(), null, 2));
}

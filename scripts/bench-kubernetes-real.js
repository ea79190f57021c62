// The Kubernetes executor on the test bed's real node (kubelet + containerd + runc, pods really run).
// Uses the built server/dist (`npm run build` first).
//  (a) per-task overhead: one-task jobs submitted to a JobService with the KubernetesExecutor (data
//      through a hostPath-backed dataVolume, as in the real-node tests), submit → job finished, against
//      a baseline in the same run: bare pods running `python3 -c pass` in the same image on the same
//      node, create → Succeeded (seen by a watch). Interleaved one by one, so both see the same load.
//      Target: median ratio ≤ 1.2.
//  (b) a 20-task diamond (one source, 18 parallel middles, one sink, each passing a variable on)
//      on the real node against the same pipeline on the local executor, wall time each.
// Skipped (with the reason) where the machine cannot run a real node. CELLPIPE_BENCH_REAL_TASKS
// (default 10) sets how many tasks and bare pods (a) times.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'k8s-testbed.sh');
const dist = join(here, '..', 'server', 'dist');
const runnerPath = join(here, '..', 'server', 'dist', 'cellpipe_runner.pyz');
const k8s = await import('@kubernetes/client-node');
const { PipelineSchema } = await import('@cellpipe/schema');
const dmod = (file) => import(pathToFileURL(join(dist, file)).href);
const { hostPathClaim } = await import('./testbed-volume.js');
const { notebook } = await import('./bench-server.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];
const round2 = (x) => Math.round(x * 100) / 100;

function bed(args, timeoutMs) {
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`k8s-testbed.sh ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function envFile(path) {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

async function until(what, probe, limitMs = 120_000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function createNamespace(core) {
  const name = `bench-real-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  await until('the default ServiceAccount', async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
  return name;
}

/** One notebook cell per task; `tasks` as the pipeline spec's tasks plus `code`. */
function request(tasks) {
  const pipeline = PipelineSchema.parse({
    apiVersion: 'cellpipe.io/v1',
    kind: 'Pipeline',
    metadata: { name: 'bench' },
    spec: {
      source: { notebook: 'bench.ipynb' },
      tasks: tasks.map(({ code: _c, ...t }, i) => ({ ...t, cells: [i] })),
    },
  });
  return { pipeline, files: { 'bench.ipynb': notebook(tasks.map((t) => t.code)) } };
}

function diamond() {
  const middles = Array.from({ length: 18 }, (_, i) => `m${i}`);
  return request([
    { name: 'source', code: 'base = 1\n', outputs: ['base'] },
    ...middles.map((name, i) => ({
      name,
      code: `v${i} = base + ${i}\n`,
      dependsOn: ['source'],
      inputs: ['base'],
      outputs: [`v${i}`],
    })),
    {
      name: 'sink',
      code: `total = ${middles.map((_, i) => `v${i}`).join(' + ')}\n`,
      dependsOn: middles,
      inputs: middles.map((_, i) => `v${i}`),
    },
  ]);
}

function finished(service, id) {
  return new Promise((resolve) => {
    const check = () => {
      const job = service.get(id);
      if (job && ['succeeded', 'failed', 'cancelled'].includes(job.state)) {
        service.events.off('job', check);
        resolve(job);
      }
    };
    service.events.on('job', check);
    check();
  });
}

async function timedJob(service, req) {
  const start = performance.now();
  const job = await service.submit('bench', req);
  const done = await finished(service, job.id);
  if (done.state !== 'succeeded') throw new Error(`bench job ${job.id} ${done.state}: ${JSON.stringify(done.tasks)}`);
  return performance.now() - start;
}

/** create → Succeeded of a bare pod running `python3 -c pass`, seen through a watch. */
async function barePod(kc, core, ns, node, i) {
  const name = `bare-${i}-${Date.now().toString(36)}`;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const watch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${ns}/pods`,
    { fieldSelector: `metadata.name=${name}` },
    (_type, pod) => {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') resolveDone(pod.status.phase);
    },
    () => undefined,
  );
  const start = performance.now();
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: node.nodeSelector,
        tolerations: node.tolerations,
        enableServiceLinks: false,
        automountServiceAccountToken: false,
        containers: [{ name: 'task', image: node.image, command: ['python3', '-c', 'pass'] }],
      },
    },
  });
  const phase = await done;
  const ms = performance.now() - start;
  watch.abort();
  if (phase !== 'Succeeded') throw new Error(`bare pod ${name} ${phase}`);
  await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
  return ms;
}

export async function benchKubernetesReal() {
  const check = spawnSync('bash', [script, 'real-node', 'check'], { encoding: 'utf8' });
  if (check.status !== 0) return { skipped: `this machine cannot run the real node: ${check.stdout.trim()}` };
  const tasks = Number(process.env.CELLPIPE_BENCH_REAL_TASKS ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-bench-real-'));
  const homes = [];
  const started = Date.now();
  const { KubernetesExecutor } = await dmod('executors/kubernetes/executor.js');
  const { createJobService } = await dmod('engine.js');
  const { LocalExecutor } = await dmod('executors/local/local-executor.js');
  bed(['build'], 90 * 60 * 1000);
  bed(['real-node', 'build'], 90 * 60 * 1000);
  bed(['up', dir, '--real-node'], 5 * 60 * 1000);
  const services = [];
  try {
    const env = envFile(join(dir, 'real-node', 'env'));
    const node = {
      image: env.REAL_NODE_IMAGE,
      nodeSelector: { [env.REAL_NODE_TAINT]: 'true' },
      tolerations: [{ key: env.REAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
    };
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(join(dir, 'kubeconfig'));
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ns = await createNamespace(core);

    const newHome = () => {
      const h = mkdtempSync(join(tmpdir(), 'cellpipe-bench-real-home-'));
      homes.push(h);
      return h;
    };
    const home = newHome();
    const claimName = await hostPathClaim(kc, ns, home, `bench-${Date.now().toString(36)}`);
    const executor = new KubernetesExecutor({
      kubeConfig: kc,
      config: {
        namespace: ns,
        nodeSelector: node.nodeSelector,
        tolerations: node.tolerations,
        defaultImage: node.image,
        dataVolume: { claimName, mountPath: home },
      },
      runnerArchive: readFileSync(runnerPath),
      warn: () => undefined,
    });
    const real = createJobService({ home, executor });
    services.push(real);
    await real.start();
    const local = createJobService({ home: newHome(), executor: new LocalExecutor() });
    services.push(local);
    await local.start();

    // Warm-up: the image's first use on the node (snapshot unpacked, page cache) is not overhead.
    await timedJob(real, request([{ name: 'warm', code: 'pass\n' }]));
    await barePod(kc, core, ns, node, 'warm');

    const taskMs = [];
    const podMs = [];
    for (let i = 0; i < tasks; i++) {
      taskMs.push(await timedJob(real, request([{ name: 'one', code: 'pass\n' }])));
      podMs.push(await barePod(kc, core, ns, node, i));
    }
    const realDiamondMs = await timedJob(real, diamond());
    const localDiamondMs = await timedJob(local, diamond());
    return {
      loadavg1mAtEnd: round2(loadavg()[0]),
      perTask: {
        tasks,
        taskMedianMs: Math.round(median(taskMs)),
        taskP90Ms: Math.round(p90(taskMs)),
        barePodMedianMs: Math.round(median(podMs)),
        barePodP90Ms: Math.round(p90(podMs)),
        ratioMedian: round2(median(taskMs) / median(podMs)),
        targetRatio: 1.2,
      },
      diamond20: {
        realNodeMs: Math.round(realDiamondMs),
        localMs: Math.round(localDiamondMs),
        ratio: round2(realDiamondMs / localDiamondMs),
      },
      totalMs: Date.now() - started,
    };
  } finally {
    for (const s of services) await s.close();
    bed(['down', dir], 2 * 60 * 1000);
    rmSync(dir, { recursive: true, force: true });
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchKubernetesReal(), null, 2));
}

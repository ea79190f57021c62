/**
 * The Kubernetes executor on the test bed's real node: a kubelet, containerd and runc where task
 * pods really run the task runner in a locally built python3 image, with a fake GPU device plugin.
 * Data passes between tasks through either data store: `server` (the pods fetch and upload over HTTP
 * from a `cellpipe serve` bound to the node's bridge address) or `volume` (a hostPath-backed claim at
 * the server's home, the same path in the server and the pods).
 *
 * Skipped, with the reason printed, where the machine cannot run a real node (not root, ...).
 */
import { jest } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { isTerminalJobState, JobSchema, type Job, type SubmitJobRequest } from '@cellpipe/schema';
import { readHomeToken } from '../src/auth/home-token.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { createJobService } from '../src/engine.js';
import type { JobService } from '../src/jobs/job-service.js';
import { hostPathClaim } from '../../scripts/testbed-volume.js';
import { processAlive, request as pipelineRequest, taskOf, waitForJob } from './jobs-fixtures.js';
import {
  BUILD_TIMEOUT_MS,
  createNamespace,
  describeOnRealNode,
  eventually,
  runnerArchive,
  startTestbed,
  type RealNode,
  type Testbed,
} from './kubernetes-bed.js';

jest.setTimeout(240_000);

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cliJs = join(repo, 'server', 'dist', 'cli.js');
const quickstart = join(repo, 'examples', 'quickstart.ipynb');

describeOnRealNode('the Kubernetes executor on a real node', () => {
  let bed: Testbed;
  let node: RealNode;
  let ns: string;
  let core: k8s.CoreV1Api;
  const homes: string[] = [];
  const volumes: string[] = [];

  beforeAll(async () => {
    bed = startTestbed({ realNode: true });
    node = bed.realNode!;
    core = bed.kc.makeApiClient(k8s.CoreV1Api);
    ns = await createNamespace(bed.kc, 'real');
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    for (const name of volumes) await core.deletePersistentVolume({ name }).catch(() => undefined);
    bed?.stop();
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  /**
   * A server home whose files the pods see at the same path: a hostPath PersistentVolume of the home,
   * bound to a claim in the tasks' namespace (what a ReadWriteMany claim gives on a real cluster).
   */
  async function sharedHome(): Promise<{ home: string; claimName: string }> {
    const home = mkdtempSync(join(tmpdir(), 'cellpipe-real-'));
    homes.push(home);
    const name = `cellpipe-${volumes.length}-${Date.now().toString(36)}`;
    volumes.push(name);
    await hostPathClaim(bed.kc, ns, home, name);
    return { home, claimName: name };
  }

  function executorConfig(home: string, claimName: string) {
    return {
      namespace: ns,
      ...node.executorConfig,
      dataVolume: { claimName, mountPath: home },
    };
  }

  async function service(): Promise<{ service: JobService; home: string }> {
    const { home, claimName } = await sharedHome();
    const executor = new KubernetesExecutor({
      kubeConfig: bed.kc,
      config: executorConfig(home, claimName),
      runnerArchive: runnerArchive(),
      warn: () => undefined,
    });
    const svc = createJobService({ home, executor, retryBackoffMs: 50 });
    await svc.start();
    return { service: svc, home };
  }

  /** Host pids of the processes in a pod's containers (pause excluded), found by its cgroup. */
  function podProcesses(podUid: string): { pid: number; cmdline: string }[] {
    const out: { pid: number; cmdline: string }[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (!readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(`pod${podUid}`)) continue;
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
        if (cmdline && cmdline !== '/pause') out.push({ pid: Number(entry), cmdline });
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  async function podOf(jobId: string, task: string): Promise<k8s.V1Pod | undefined> {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `cellpipe.io/job=${jobId},cellpipe.io/task=${task}`,
    });
    return pods.items[0];
  }

  const log = (home: string, job: Job, task: string): string =>
    readFileSync(join(home, 'jobs', job.id, 'tasks', task, `attempt-${taskOf(job, task).attempt}.log`), 'utf8');

  test('cancel stops the container: its processes are gone when the task is reported cancelled', async () => {
    const { service: svc } = await service();
    try {
      const job = await svc.submit(
        'alice',
        pipelineRequest([{ name: 'sleeper', code: 'import time\nprint("sleeping", flush=True)\ntime.sleep(600)\n' }]),
      );
      await waitForJob(svc, job.id, (j) => taskOf(j, 'sleeper').state === 'running');
      const pod = await podOf(job.id, 'sleeper');
      const processes = await eventually('the task runner inside the pod', async () => {
        const p = podProcesses(pod!.metadata!.uid!);
        return p.some((x) => x.cmdline.includes('cellpipe_runner.py')) ? p : undefined;
      });
      await svc.cancel(job.id);
      const done = await waitForJob(svc, job.id);
      expect([done.state, taskOf(done, 'sleeper').state]).toEqual(['cancelled', 'cancelled']);
      expect(processes.filter((p) => processAlive(p.pid))).toEqual([]);
      expect(podProcesses(pod!.metadata!.uid!)).toEqual([]);
    } finally {
      await svc.close();
    }
  });

  test('a task over its memory limit is reported as OOMKilled', async () => {
    const { service: svc } = await service();
    try {
      const job = await svc.submit(
        'alice',
        pipelineRequest([
          { name: 'hungry', code: 'blob = bytearray(512 * 1024 * 1024)\n', resources: { memory: '64Mi' } },
        ]),
      );
      const done = await waitForJob(svc, job.id);
      const hungry = taskOf(done, 'hungry');
      expect(hungry).toMatchObject({ state: 'failed', exitCode: 137, error: { reason: 'oom' } });
      expect(hungry.error?.message).toMatch(/OOMKilled/);
    } finally {
      await svc.close();
    }
  });

  test('a child the OOM killer ends fails the task as oom, and the runner that survived it reports the peak', async () => {
    const { service: svc } = await service();
    try {
      const code =
        'import subprocess, sys\n' +
        'r = subprocess.run([sys.executable, "-c", "b = b\'x\' * (512 * 1024 * 1024)"])\n' +
        'assert r.returncode == 0, f"the worker ended with {r.returncode}"\n';
      const job = await svc.submit('alice', pipelineRequest([{ name: 'pool', code, resources: { memory: '128Mi' } }]));
      const done = await waitForJob(svc, job.id);
      const pool = taskOf(done, 'pool');
      expect(pool).toMatchObject({ state: 'failed', error: { reason: 'oom' } });
      // On a cgroup v2 node the kubelet sets memory.oom.group: the whole container goes, with no result.
      if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return;
      // cgroup v1: only the worker is killed. containerd marks the container OOMKilled; the runner's own
      // traceback stays as detail, and it reports the cgroup's peak: the limit the worker ran into.
      expect(pool.error?.ename).toBe('AssertionError');
      expect(pool.usage?.peakMemoryBytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(pool.usage!.peakMemoryBytes!).toBeLessThanOrEqual(128 * 1024 * 1024);
    } finally {
      await svc.close();
    }
  });

  test('a MIG task and a GPU task see the fake devices the device plugin allocated to them', async () => {
    const { service: svc, home } = await service();
    try {
      const show = 'import os\nprint("devices", os.environ.get("NVIDIA_VISIBLE_DEVICES"))\n';
      const job = await svc.submit(
        'alice',
        pipelineRequest([
          { name: 'slice', code: show, resources: { mig: '1g.10gb' } },
          { name: 'big_slice', code: show, resources: { mig: '3g.20gb' } },
          { name: 'two_gpus', code: show, resources: { gpu: 2 } },
        ]),
      );
      const done = await waitForJob(svc, job.id);
      expect(done.state).toBe('succeeded');
      const seen = (task: string) => /^devices (.*)$/m.exec(log(home, done, task))?.[1] ?? '';
      const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
      expect(seen('slice')).toMatch(new RegExp(`^MIG-${uuid}$`));
      expect(seen('big_slice')).toMatch(new RegExp(`^MIG-${uuid}$`));
      expect(seen('two_gpus')).toMatch(new RegExp(`^GPU-${uuid},GPU-${uuid}$`));
      // Each is what the plugin handed out for that resource through the kubelet.
      const plugin = readFileSync(join(bed.dir, 'real-node', 'logs', 'fake-gpu-plugin.log'), 'utf8');
      expect(plugin).toContain(`nvidia.com/mig-1g.10gb: allocate ${seen('slice')}`);
      expect(plugin).toContain(`nvidia.com/mig-3g.20gb: allocate ${seen('big_slice')}`);
      expect(plugin).toContain(`nvidia.com/gpu: allocate ${seen('two_gpus')}`);
    } finally {
      await svc.close();
    }
  });

  test("GPU use is sampled inside the pod for the GPUs the device plugin gave it, with the image's nvidia-smi", async () => {
    const { service: svc, home } = await service();
    try {
      // The image has no nvidia-smi: the tasks put a fake first on their PATH (the home is on the pods'
      // shared volume). Like the real one in a container, it lists the container's devices (here:
      // NVIDIA_VISIBLE_DEVICES, which the device plugin set), and one more GPU that must not count.
      const bin = join(home, 'fake-bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'nvidia-smi'),
        `#!/bin/sh
[ "$*" = "--query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits" ] || exit 2
util=70; mem=1000
for id in $(echo "$NVIDIA_VISIBLE_DEVICES" | tr , ' '); do echo "$id, $util, $mem"; util=30; mem=3000; done
echo "GPU-ffffffff-0000-0000-0000-000000000000, 100, 70000"
`,
        { mode: 0o755 },
      );
      const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` };
      const code = 'import time\ntime.sleep(2)\n';
      const job = await svc.submit(
        'alice',
        pipelineRequest([
          { name: 'two_gpus', code, env, resources: { gpu: 2 } },
          { name: 'slice', code, env, resources: { mig: '1g.10gb' } },
          { name: 'cpu_only', code, env },
        ]),
      );
      const done = await waitForJob(svc, job.id);
      expect(done.state).toBe('succeeded');
      // Mean over its two GPUs (70 and 30), the busier one's peak, their memory summed.
      expect(taskOf(done, 'two_gpus').usage).toMatchObject({
        gpuUtilizationMeanPercent: 50,
        gpuUtilizationPeakPercent: 70,
        gpuMemoryPeakBytes: 4000 * 1024 * 1024,
      });
      // A MIG slice has no utilisation of its own, and a task without GPUs samples none.
      for (const name of ['slice', 'cpu_only']) {
        expect(taskOf(done, name).usage?.gpuUtilizationMeanPercent).toBeUndefined();
        expect(taskOf(done, name).usage?.gpuMemoryPeakBytes).toBeUndefined();
        expect(taskOf(done, name).usage?.peakMemoryBytes).toBeGreaterThan(0);
      }
    } finally {
      await svc.close();
    }
  });

  // ---- both data stores, through `cellpipe serve` as a cluster runs it --------------------------

  type DataStore = 'server' | 'volume';

  interface Served {
    home: string;
    url: string;
    token: string;
    child: ChildProcess;
    kill9(): Promise<void>;
    stop(): Promise<void>;
  }

  /** A free port on the node's bridge address (a restarted server must come back on the same one). */
  function freePort(): Promise<number> {
    return new Promise((resolvePort, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, node.ip, () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolvePort(port));
      });
    });
  }

  /** A server home for a store: the volume store needs it on a claim the pods mount at the same path. */
  async function storeHome(store: DataStore): Promise<{ home: string; kubernetes: Record<string, unknown> }> {
    if (store === 'volume') {
      const { home, claimName } = await sharedHome();
      return { home, kubernetes: { dataStore: 'volume', dataVolume: { claimName, mountPath: home } } };
    }
    const home = mkdtempSync(join(tmpdir(), 'cellpipe-real-server-'));
    homes.push(home);
    return { home, kubernetes: {} };
  }

  /**
   * `cellpipe serve --executor kubernetes` in a child process, bound to the node's bridge address (where
   * pods reach the host), with the server store's URL pointing there.
   */
  async function serve(
    home: string,
    store: DataStore,
    port: number,
    kubernetes: Record<string, unknown>,
  ): Promise<Served> {
    const url = `http://${node.ip}:${port}`;
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        executor: 'kubernetes',
        host: node.ip,
        port,
        kubernetes: {
          namespace: ns,
          ...node.executorConfig,
          kubeconfig: bed.kubeconfigPath,
          ...(store === 'server' ? { serverUrl: url, dataRetrySeconds: 120 } : {}),
          ...kubernetes,
        },
      }),
    );
    const child = spawn(process.execPath, [cliJs, 'serve', '--home', home], {
      env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_URL: '', CELLPIPE_TOKEN: '', CELLPIPE_CONFIG: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await eventually(
      `cellpipe serve at ${url}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`cellpipe serve exited ${child.exitCode}: ${stderr}`);
        return (await fetch(`${url}/healthz`)).ok ? true : undefined;
      },
      120_000,
    );
    return {
      home,
      url,
      token: readHomeToken(home)!,
      child,
      kill9: async () => {
        child.kill('SIGKILL');
        await exited;
      },
      stop: async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  }

  async function api(s: Served, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${s.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${s.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  }

  async function submitTo(s: Served, request: SubmitJobRequest): Promise<Job> {
    const res = await api(s, 'POST', '/api/jobs', request);
    expect(res.status).toBe(201);
    return JobSchema.parse(await res.json());
  }

  /** The job as the API shows it, once `until` holds (default: finished). */
  function jobOf(s: Served, id: string, until: (job: Job) => boolean = (j) => isTerminalJobState(j.state)) {
    return eventually(
      `job ${id}`,
      async () => {
        const job = JobSchema.parse(await (await api(s, 'GET', `/api/jobs/${id}`)).json());
        return until(job) ? job : undefined;
      },
      200_000,
    );
  }

  const cliIn = (home: string, args: string[]) => {
    const r = spawnSync(process.execPath, [cliJs, ...args], {
      env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '', CELLPIPE_URL: '', CELLPIPE_TOKEN: '' },
      encoding: 'utf8',
      timeout: 200_000,
      cwd: repo,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const jobIdOf = (stdout: string): string => /^job ([a-z0-9]+)$/m.exec(stdout)![1]!;

  /** The quickstart's report, run by the local executor: what every store must reproduce. */
  let localReport: unknown;
  function localQuickstartReport(): unknown {
    if (localReport === undefined) {
      const localHome = mkdtempSync(join(tmpdir(), 'cellpipe-real-local-'));
      homes.push(localHome);
      const local = cliIn(localHome, ['run', quickstart]);
      expect(local.code).toBe(0);
      localReport = JSON.parse(
        readFileSync(
          join(localHome, 'jobs', jobIdOf(local.stdout), 'artifacts', 'report', 'files', 'report.json'),
          'utf8',
        ),
      );
    }
    return localReport;
  }

  describe.each<DataStore>(['server', 'volume'])('the %s data store', (store) => {
    let served: Served;

    beforeAll(async () => {
      const { home, kubernetes } = await storeHome(store);
      served = await serve(home, store, await freePort(), kubernetes);
    });
    afterAll(async () => {
      await served?.stop();
    });

    test('the quickstart run with `cellpipe run` gives the local values; its notebook and artifact come back through the API', async () => {
      // First: spawnSync blocks this process, and with it the sockets fetch keeps alive.
      const expected = localQuickstartReport();
      const remote = cliIn(served.home, ['run', quickstart]);
      expect([remote.code, remote.stdout]).toEqual([0, expect.stringMatching(/^job [a-z0-9]+ succeeded in /m)]);
      const id = jobIdOf(remote.stdout);
      const job = await jobOf(served, id);
      // Every task ran in a pod on the real node, variables flowing between them.
      expect(job.tasks.map((t) => t.placement?.split('/')[0])).toEqual(job.tasks.map(() => node.name));
      expect(taskOf(job, 'report').artifacts).toEqual(['report.json']);
      // What the monitor fetches.
      const artifact = await api(served, 'GET', `/api/jobs/${id}/tasks/report/artifacts/report.json`);
      expect(artifact.status).toBe(200);
      expect(JSON.parse(await artifact.text())).toEqual(expected);
      const notebook = await api(served, 'GET', `/api/jobs/${id}/tasks/stats/notebook`);
      expect(notebook.status).toBe(200);
      const cells = ((await notebook.json()) as { cells: { outputs: { text?: string }[] }[] }).cells;
      expect(cells.flatMap((c) => c.outputs).map((o) => o.text ?? '')).toContainEqual(
        expect.stringMatching(/^mean=-?\d+\.\d{3} stdev=\d+\.\d{3}\n$/),
      );
    });

    test("a failing cell fails its task with the cell's 1-based position and the traceback", async () => {
      const job = await submitTo(
        served,
        pipelineRequest([
          { name: 'fine', code: 'a = 1\n', outputs: ['a'] },
          { name: 'broken', code: 'b = a + 1\nc = b / 0\n', dependsOn: ['fine'], inputs: ['a'] },
        ]),
      );
      const done = await jobOf(served, job.id);
      expect([done.state, taskOf(done, 'fine').state]).toEqual(['failed', 'succeeded']);
      const broken = taskOf(done, 'broken');
      expect(broken.error).toMatchObject({ reason: 'exception', cell: 2 });
      expect(broken.error?.message).toMatch(/ZeroDivisionError/);
      expect(broken.error?.traceback).toMatch(/<cell 2>", line 2[^]*ZeroDivisionError: division by zero/);
    });

    test("a task's peak memory and CPU time, read from its container's cgroup, reach the API", async () => {
      const job = await submitTo(
        served,
        pipelineRequest([
          {
            name: 'hog',
            // 64 MiB written (every page touched), then some CPU burnt.
            code: 'blob = b"x" * (64 * 1024 * 1024)\ntotal = sum(i * i for i in range(3_000_000))\n',
            resources: { memory: '512Mi' },
          },
        ]),
      );
      const done = await jobOf(served, job.id);
      expect(done.state).toBe('succeeded');
      const usage = taskOf(done, 'hog').usage;
      expect(usage?.peakMemoryBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
      expect(usage?.cpuSeconds).toBeGreaterThan(0);
      // The container's cgroup, not the node's: within the pod's limit and the few seconds it ran.
      expect(usage!.peakMemoryBytes!).toBeLessThanOrEqual(512 * 1024 * 1024);
      expect(usage!.cpuSeconds!).toBeLessThan(60);
      // result.json (uploaded, or on the shared volume) says the numbers came from the cgroup files.
      const result = JSON.parse(
        readFileSync(join(served.home, 'jobs', job.id, 'tasks', 'hog', 'attempt-1', 'result.json'), 'utf8'),
      ) as { usage?: { sources?: Record<string, string> } };
      expect(result.usage?.sources).toEqual({
        memory: expect.stringMatching(/^cgroup-v[12]$/),
        cpu: expect.stringMatching(/^cgroup-v[12]$/),
      });
    });

    test('the server kill -9ed while a pod runs and started again: the outputs arrive, nothing runs twice', async () => {
      const { home, kubernetes } = await storeHome(store);
      const port = await freePort();
      // Kept Jobs and pods, to count them afterwards.
      let s = await serve(home, store, port, { ...kubernetes, keepFinishedJobs: true });
      try {
        const job = await submitTo(
          s,
          pipelineRequest([
            {
              name: 'work',
              code:
                'import os, time\nprint("working", flush=True)\ntime.sleep(6)\nvalue = 6 * 7\n' +
                'open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "value.txt"), "w").write(str(value))\n',
              outputs: ['value'],
            },
            { name: 'after', code: 'doubled = value * 2\ndoubled\n', dependsOn: ['work'], inputs: ['value'] },
          ]),
        );
        await jobOf(s, job.id, (j) => taskOf(j, 'work').state === 'running');
        const pod = await eventually('the task runner in its pod', async () => {
          const p = await podOf(job.id, 'work');
          return p && podProcesses(p.metadata!.uid!).some((x) => x.cmdline.includes('cellpipe_runner.py'))
            ? p
            : undefined;
        });
        await s.kill9();
        // Down while the cells end and the task hands over its output, artifact, notebook and result.
        await new Promise((r) => setTimeout(r, 12_000));
        s = await serve(home, store, port, { ...kubernetes, keepFinishedJobs: true });
        const done = await jobOf(s, job.id);
        expect([done.state, taskOf(done, 'work').attempt, taskOf(done, 'after').attempt]).toEqual(['succeeded', 1, 1]);
        expect(taskOf(done, 'work').artifacts).toEqual(['value.txt']);
        const artifact = await api(s, 'GET', `/api/jobs/${job.id}/tasks/work/artifacts/value.txt`);
        expect(await artifact.text()).toBe('42');
        const notebook = await (await api(s, 'GET', `/api/jobs/${job.id}/tasks/after/notebook`)).text();
        expect(notebook).toContain('"text/plain": "84"');
        // One Job and one pod per task, and the work ran once.
        const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `cellpipe.io/job=${job.id}` });
        expect(pods.items.map((p) => p.metadata?.labels?.['cellpipe.io/task']).sort()).toEqual(['after', 'work']);
        expect(pods.items.find((p) => p.metadata?.labels?.['cellpipe.io/task'] === 'work')?.metadata?.uid).toBe(
          pod.metadata!.uid,
        );
        const workLog = await (await api(s, 'GET', `/api/jobs/${job.id}/tasks/work/logs`)).text();
        expect(workLog.match(/^working$/gm)).toEqual(['working']);
        if (store === 'server')
          expect(workLog).toMatch(
            /\[cellpipe\] uploading .*: the server is not answering .*; trying again for up to 120 s/,
          );
      } finally {
        await s.stop();
      }
    });
  });

  // Last: it takes the bed down.
  test('down leaves nothing of the node running or mounted, even with a pod still running', async () => {
    if (process.env.CELLPIPE_K8S_TESTBED_DIR) return; // a shared bed is left running on purpose
    const { service: svc } = await service();
    const job = await svc.submit(
      'alice',
      pipelineRequest([{ name: 'left_running', code: 'import time\ntime.sleep(600)\n' }]),
    );
    await waitForJob(svc, job.id, (j) => taskOf(j, 'left_running').state === 'running');
    await svc.close(); // the task keeps running: the server only stops following it
    const pod = await podOf(job.id, 'left_running');
    const inPod = podProcesses(pod!.metadata!.uid!);
    expect(inPod.length).toBeGreaterThan(0);
    const pidDir = join(bed.dir, 'real-node', 'pids');
    const components = readdirSync(pidDir).map((f) => Number(readFileSync(join(pidDir, f), 'utf8').trim()));
    expect(components).toHaveLength(4); // the namespace holder, containerd, the kubelet, the device plugin
    const cgroupMounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
      .map((f) => f[1]!);
    expect(cgroupMounts.some((m) => existsSync(join(m, node.cgroup)))).toBe(true);

    bed.stop();

    expect([...components, ...inPod.map((p) => p.pid)].filter(processAlive)).toEqual([]);
    expect(podProcesses(pod!.metadata!.uid!)).toEqual([]);
    expect(cgroupMounts.filter((m) => existsSync(join(m, node.cgroup)))).toEqual([]);
    for (const table of ['/proc/self/mountinfo', '/proc/1/mountinfo'])
      expect(
        readFileSync(table, 'utf8')
          .split('\n')
          .filter((l) => l.includes(bed.dir)),
      ).toEqual([]);
    expect(spawnSync('ip', ['link', 'show', node.bridge]).status).not.toBe(0);
  });
});

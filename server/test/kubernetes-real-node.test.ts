/**
 * The Kubernetes executor on the test bed's real node: a kubelet, containerd and runc where task
 * pods really run the task runner in a locally built python3 image, with a fake GPU device plugin.
 * Data passes between tasks through the executor's `dataVolume` (a hostPath-backed claim at the
 * server's home, the same path in the server and the pods).
 *
 * Skipped, with the reason printed, where the machine cannot run a real node (not root, ...).
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { Job } from '@cellpipe/schema';
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

  test('the quickstart run through the CLI on the real node gives the same values as the local run', async () => {
    const cli = (home: string, args: string[]) => {
      const r = spawnSync(process.execPath, [cliJs, ...args], {
        env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '', CELLPIPE_URL: '', CELLPIPE_TOKEN: '' },
        encoding: 'utf8',
        timeout: 200_000,
        cwd: repo,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const jobId = (stdout: string): string => /^job ([a-z0-9]+)$/m.exec(stdout)![1]!;
    const report = (home: string, id: string): unknown =>
      JSON.parse(readFileSync(join(home, 'jobs', id, 'artifacts', 'report', 'files', 'report.json'), 'utf8'));

    const localHome = mkdtempSync(join(tmpdir(), 'cellpipe-real-local-'));
    homes.push(localHome);
    const local = cli(localHome, ['run', quickstart]);
    expect(local.code).toBe(0);

    const { home, claimName } = await sharedHome();
    // The embedded server of `cellpipe run` takes its executor from the home's config file.
    writeFileSync(
      join(home, 'config.yaml'),
      JSON.stringify({
        executor: 'kubernetes',
        kubernetes: { ...executorConfig(home, claimName), kubeconfig: bed.kubeconfigPath },
      }),
    );
    const remote = cli(home, ['run', quickstart]);
    expect([remote.code, remote.stdout]).toEqual([0, expect.stringMatching(/^job [a-z0-9]+ succeeded in /m)]);
    const id = jobId(remote.stdout);
    expect(report(home, id)).toEqual(report(localHome, jobId(local.stdout)));
    // Every task ran in a pod on the real node.
    const job = JSON.parse(cli(home, ['status', id, '--json']).stdout) as Job;
    expect(job.tasks.map((t) => t.placement?.split('/')[0])).toEqual(job.tasks.map(() => node.name));
  });

  test("a failing cell fails its task with the cell's 1-based position and the traceback", async () => {
    const { service: svc } = await service();
    try {
      const job = await svc.submit(
        'alice',
        pipelineRequest([
          { name: 'fine', code: 'a = 1\n', outputs: ['a'] },
          { name: 'broken', code: 'b = a + 1\nc = b / 0\n', dependsOn: ['fine'], inputs: ['a'] },
        ]),
      );
      const done = await waitForJob(svc, job.id);
      expect(done.state).toBe('failed');
      const broken = taskOf(done, 'broken');
      expect(broken.error).toMatchObject({ reason: 'exception', cell: 2 });
      expect(broken.error?.message).toMatch(/ZeroDivisionError/);
      expect(broken.error?.traceback).toMatch(/<cell 2>", line 2[^]*ZeroDivisionError: division by zero/);
      expect(taskOf(done, 'fine').state).toBe('succeeded');
    } finally {
      await svc.close();
    }
  });

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

  test('the notebook a task ran is written back through the data volume', async () => {
    const { service: svc } = await service();
    try {
      const job = await svc.submit('alice', pipelineRequest([{ name: 'only', code: 'answer = 6 * 7\nanswer\n' }]));
      const done = await waitForJob(svc, job.id);
      expect(done.state).toBe('succeeded');
      const executed = JSON.parse(readFileSync(await svc.taskFile(job.id, 'only', 'notebook'), 'utf8')) as {
        cells: { outputs?: { data?: Record<string, unknown> }[] }[];
      };
      const results = executed.cells.flatMap((c) => c.outputs ?? []).map((o) => o.data?.['text/plain']);
      expect(results).toContain('42');
    } finally {
      await svc.close();
    }
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

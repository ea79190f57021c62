/**
 * The Helm chart (deploy/helm/cellpipe) with real Helm (built from its Go module by scripts/helm.sh)
 * against the test bed's apiserver: it lints, every object it renders passes a server-side dry run,
 * it installs, the configuration it writes is one the server accepts, and the ServiceAccount it
 * makes holds every right the Kubernetes executor needs in each team's namespace (Kueue's Workloads
 * too when Jobs are queued), so a team's task Job lands in that namespace labelled with its user
 * and team.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { readConfigFile, ServerConfigSchema } from '../src/config.js';
import type { ExecutorEvent, LaunchSpec } from '../src/executors/executor.js';
import { requiredAccess } from '../src/executors/kubernetes/access.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { KubernetesExecutorConfigSchema } from '../src/executors/kubernetes/options.js';
import { BUILD_TIMEOUT_MS, eventually, startTestbed, type Testbed } from './kubernetes-bed.js';

jest.setTimeout(180_000);

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chart = join(root, 'deploy/helm/cellpipe');
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
const release = 'cellpipe';
const ns = `cp-hub-${suffix}`;
const tasksNs = `cp-tasks-${suffix}`;
const nlpNs = `cp-nlp-${suffix}`;
const values = {
  executor: { namespace: tasksNs, namespacePerTeam: true },
  teams: { vision: { groups: ['vision'], visibility: 'team' }, nlp: { users: ['carol'], namespace: nlpNs } },
  inventoryHolders: 'team',
};
// vision's namespace is the default one, `cellpipe-<team>`.
const visionNs = 'cellpipe-vision';

let bed: Testbed;
let helm: string;
let work: string;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let executor: KubernetesExecutor | undefined;

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: BUILD_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Helm against the bed, with its state in this run's folder. */
function helmRun(...args: string[]): string {
  return run(helm, args, {
    KUBECONFIG: bed.kubeconfigPath,
    HELM_CACHE_HOME: join(work, 'helm/cache'),
    HELM_CONFIG_HOME: join(work, 'helm/config'),
    HELM_DATA_HOME: join(work, 'helm/data'),
  });
}

/** The chart rendered with this run's values, and `--set` overrides if given. */
function rendered(set?: string): k8s.KubernetesObject[] {
  const text = helmRun(
    'template',
    release,
    chart,
    '--namespace',
    ns,
    '--values',
    join(work, 'values.json'),
    ...(set ? ['--set', set] : []),
  );
  return parseAllDocuments(text)
    .map((d) => d.toJS() as k8s.KubernetesObject | null)
    .filter((o): o is k8s.KubernetesObject => o !== null);
}

beforeAll(async () => {
  helm = run('bash', [join(root, 'scripts/helm.sh')])
    .trim()
    .split('\n')
    .pop()!;
  work = mkdtempSync(join(tmpdir(), 'cellpipe-helm-'));
  writeFileSync(join(work, 'values.json'), JSON.stringify(values));
  bed = startTestbed();
  core = bed.kc.makeApiClient(k8s.CoreV1Api);
  batch = bed.kc.makeApiClient(k8s.BatchV1Api);
  // The site's namespaces (or executor.createNamespaces, which renders them).
  for (const name of [ns, tasksNs, nlpNs, visionNs]) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await executor?.close();
  if (bed) {
    try {
      helmRun('uninstall', release, '--namespace', ns);
    } catch {
      // not installed
    }
    bed.stop();
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('helm lints the chart, and every object it renders passes a server-side dry run', async () => {
  helmRun('lint', chart, '--values', join(work, 'values.json'));
  const objects = rendered();
  const kinds = objects.map((o) => o.kind).sort();
  expect(kinds).toEqual(
    [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'Deployment',
      'NetworkPolicy',
      'PersistentVolumeClaim',
      'Role',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ].sort(),
  );
  const client = k8s.KubernetesObjectApi.makeApiClient(bed.kc);
  for (const obj of objects) {
    const scoped = obj.kind === 'ClusterRole' || obj.kind === 'ClusterRoleBinding' || obj.kind === 'Namespace';
    if (!scoped) obj.metadata = { ...obj.metadata, namespace: obj.metadata?.namespace ?? ns };
    await expect(client.create(obj, undefined, 'All')).resolves.toBeDefined();
  }
  // Nothing was created.
  expect(
    (await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'app.kubernetes.io/name=cellpipe' })).items,
  ).toEqual([]);

  // The Deployment: the network label z2jh's hub admits, the token from z2jh's Secret, one replica.
  const deployment = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
  expect(deployment.spec?.template.metadata?.labels).toMatchObject({ 'hub.jupyter.org/network-access-hub': 'true' });
  expect(deployment.spec?.replicas).toBe(1);
  expect(deployment.spec?.template.spec?.containers[0]?.env).toContainEqual({
    name: 'JUPYTERHUB_API_TOKEN',
    valueFrom: { secretKeyRef: { name: 'hub', key: 'hub.services.cellpipe.apiToken' } },
  });
  // Namespaces are rendered only on request, never the release's own.
  const made = rendered(`executor.createNamespaces=true,executor.namespace=${ns}`)
    .filter((o) => o.kind === 'Namespace')
    .map((o) => o.metadata?.name);
  expect(made.sort()).toEqual([nlpNs, visionNs].sort());
});

test('the configuration the chart writes is one the server accepts', () => {
  const cm = rendered().find((o) => o.kind === 'ConfigMap') as k8s.V1ConfigMap;
  const file = join(work, 'config.yaml');
  writeFileSync(file, cm.data!['config.yaml']!);
  const fromChart = readConfigFile(file);
  // The token comes from the Secret, as JUPYTERHUB_API_TOKEN.
  const config = ServerConfigSchema.parse({
    ...fromChart,
    jupyterhub: { ...fromChart.jupyterhub, apiToken: 'from-the-secret' },
  });
  expect(config).toMatchObject({
    auth: 'jupyterhub',
    basePath: '/services/cellpipe',
    executor: 'kubernetes',
    homeToken: false,
    inventoryHolders: 'team',
    jupyterhub: { apiUrl: 'http://hub:8081/hub/api', serviceName: 'cellpipe', cacheSeconds: 30 },
  });
  // Task pods pass their data to the server at its Service, under the service prefix.
  expect(KubernetesExecutorConfigSchema.parse(config.kubernetes)).toMatchObject({
    namespace: tasksNs,
    namespacePerTeam: true,
    dataStore: 'server',
    serverUrl: `http://cellpipe.${ns}.svc:8765/services/cellpipe`,
  });

  // With a shared volume instead: a ReadWriteMany claim holds the job files, mounted where the server keeps them.
  const volume = rendered('executor.dataStore=volume');
  const claims = volume.filter((o) => o.kind === 'PersistentVolumeClaim') as k8s.V1PersistentVolumeClaim[];
  expect(claims.map((c) => [c.metadata?.name, c.spec?.accessModes])).toEqual([
    ['cellpipe-home', ['ReadWriteOnce']],
    ['cellpipe-jobs', ['ReadWriteMany']],
  ]);
  const volumeConfig = readConfigFileText(
    (volume.find((o) => o.kind === 'ConfigMap') as k8s.V1ConfigMap).data!['config.yaml']!,
  ) as { jobsDir: string; kubernetes: unknown };
  expect(KubernetesExecutorConfigSchema.parse(volumeConfig.kubernetes)).toMatchObject({
    dataStore: 'volume',
    dataVolume: { claimName: 'cellpipe-jobs', mountPath: volumeConfig.jobsDir },
  });
});

test("with Kueue queues the config names them, and each task namespace's Role grants what the executor asks for", () => {
  /** Whether some rule of these grants `verb` on the resource. */
  const grants = (rules: k8s.V1PolicyRule[], group: string, resource: string, verb: string) =>
    rules.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes(verb));
  const kueueRule = (objects: k8s.KubernetesObject[]) =>
    (objects.filter((o) => o.kind === 'Role') as k8s.V1Role[]).filter((role) =>
      grants(role.rules ?? [], 'kueue.x-k8s.io', 'workloads', 'watch'),
    );
  // Without queues the ServiceAccount reads no Workloads.
  expect(kueueRule(rendered())).toEqual([]);

  const objects = rendered('executor.queueName=shared,executor.teamQueues.vision=vision-queue');
  const cm = objects.find((o) => o.kind === 'ConfigMap') as k8s.V1ConfigMap;
  const { kubernetes } = readConfigFileText(cm.data!['config.yaml']!) as { kubernetes: unknown };
  const cfg = KubernetesExecutorConfigSchema.parse(kubernetes);
  expect(cfg).toMatchObject({ queueName: 'shared', teamQueues: { vision: 'vision-queue' }, userQueues: {} });
  const roles = objects.filter((o) => o.kind === 'Role') as k8s.V1Role[];
  const clusterRules = objects
    .filter((o) => o.kind === 'ClusterRole')
    .flatMap((o) => (o as k8s.V1ClusterRole).rules ?? []);
  const needs = requiredAccess(cfg, [tasksNs, visionNs, nlpNs]);
  expect(needs.some((n) => n.group === 'kueue.x-k8s.io')).toBe(true);
  for (const need of needs) {
    const rules = need.namespace
      ? (roles.find((r) => r.metadata?.namespace === need.namespace)?.rules ?? [])
      : clusterRules;
    const resource = need.subresource ? `${need.resource}/${need.subresource}` : need.resource;
    for (const verb of need.verbs) {
      expect([
        need.namespace ?? 'cluster',
        need.group,
        resource,
        verb,
        grants(rules, need.group, resource, verb),
      ]).toEqual([need.namespace ?? 'cluster', need.group, resource, verb, true]);
    }
  }
});

test("installed, its ServiceAccount runs a team's task Job in the team's namespace, labelled with user and team", async () => {
  helmRun('install', release, chart, '--namespace', ns, '--values', join(work, 'values.json'));
  const sa = await eventually('the chart ServiceAccount', async () =>
    core.readNamespacedServiceAccount({ name: 'cellpipe', namespace: ns }),
  );
  expect(sa.metadata?.name).toBe('cellpipe');
  const token = await core.createNamespacedServiceAccountToken({
    name: 'cellpipe',
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = bed.kc.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bed', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'cellpipe', token: token.status!.token }],
    contexts: [{ name: 'bed', cluster: 'bed', user: 'cellpipe' }],
    currentContext: 'bed',
  });
  const cm = rendered().find((o) => o.kind === 'ConfigMap') as k8s.V1ConfigMap;
  const kubernetes = (readConfigFileText(cm.data!['config.yaml']!) as { kubernetes: Record<string, unknown> })
    .kubernetes;
  // The task pods cannot reach a server from here (none runs): the executor is built without a data path.
  const { serverUrl: _u, ...settings } = kubernetes;
  executor = new KubernetesExecutor({
    kubeConfig: kc,
    runnerArchive: readFileSync(join(root, 'server/dist/cellpipe_runner.pyz')),
    config: { ...settings, keepFinishedJobs: true },
    teamNamespaces: { vision: visionNs, nlp: nlpNs },
    warn: () => undefined,
  });
  expect(executor.namespaces.sort()).toEqual([nlpNs, tasksNs, visionNs].sort());
  // Every right the executor asks for, in each of its namespaces, is the chart's.
  expect(await executor.checkAccess()).toEqual([]);

  const runTask = async (jobId: string, task: string, owner: string, team?: string) => {
    const dir = join(work, jobId, task);
    const spec: LaunchSpec = {
      jobId,
      taskName: task,
      taskId: `${jobId}.${task}`,
      attempt: 1,
      owner,
      ...(team ? { team } : {}),
      resources: { cpu: '100m' },
      env: {},
      taskDir: dir,
      payload: { 'task.json': '{}' },
      logPath: join(dir, 'log.txt'),
      resultPath: join(dir, 'result.json'),
      artifactRoot: join(work, jobId, 'artifacts'),
    };
    const events: ExecutorEvent[] = [];
    const ended = new Promise<void>((done, fail) => {
      executor!
        .start(spec, (e) => {
          events.push(e);
          if (e.type === 'exited') done();
        })
        .catch(fail);
    });
    await ended;
    return events.at(-1);
  };
  const teamJob = `helmteam${suffix}`;
  const lonerJob = `helmlone${suffix}`;
  expect(await runTask(teamJob, 'vision_task', 'alice@example.org', 'vision')).toMatchObject({
    type: 'exited',
    exitCode: 0,
  });
  expect(await runTask(lonerJob, 'loner_task', 'zed')).toMatchObject({ type: 'exited', exitCode: 0 });

  const inVision = await batch.listNamespacedJob({
    namespace: visionNs,
    labelSelector: 'app.kubernetes.io/managed-by=cellpipe',
  });
  expect(inVision.items.map((j) => j.metadata?.labels)).toEqual([
    expect.objectContaining({
      'cellpipe.io/task': 'vision_task',
      'cellpipe.io/team': 'vision',
      'cellpipe.io/user': expect.any(String),
    }),
  ]);
  expect(inVision.items[0]!.metadata?.annotations?.['cellpipe.io/user']).toBe('alice@example.org');
  const shared = await batch.listNamespacedJob({
    namespace: tasksNs,
    labelSelector: 'app.kubernetes.io/managed-by=cellpipe',
  });
  expect(shared.items.map((j) => j.metadata?.labels?.['cellpipe.io/task'])).toEqual(['loner_task']);
  expect(shared.items[0]!.metadata?.labels?.['cellpipe.io/team']).toBeUndefined();
  // Deleting a job removes its objects, in whichever namespace they are.
  await executor.deleteJobObjects(teamJob);
  await eventually("the team job's Jobs deleted", async () => {
    const left = await batch.listNamespacedJob({ namespace: visionNs, labelSelector: `cellpipe.io/job=${teamJob}` });
    return left.items.length === 0 ? true : undefined;
  });
  expect((await batch.listNamespacedJob({ namespace: tasksNs })).items).toHaveLength(1);
});

function readConfigFileText(text: string): unknown {
  const file = join(work, 'config-read.yaml');
  writeFileSync(file, text);
  return readConfigFile(file);
}

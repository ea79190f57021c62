/** The Kubernetes executor as the registry builds it: config checked, then the identity's RBAC. */
import { readFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { ConfigError } from '../../config.js';
import type { Executor } from '../executor.js';
import type { ExecutorContext } from '../registry.js';
import { executorSettings } from '../settings.js';
import { passedEnv } from '../task-env.js';
import { Teams } from '../../auth/teams.js';
import { JobLayout } from '../../store/layout.js';
import { KubernetesExecutor } from './executor.js';
import { loadKubeConfig } from './kubeconfig.js';
import { KubernetesExecutorConfigSchema, type KubernetesExecutorConfig } from './options.js';

export { KubernetesExecutor, type KubernetesExecutorDeps } from './executor.js';
export { computeInventory } from './inventory.js';
export {
  KubernetesExecutorConfigSchema,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './options.js';
export { placeResources, UnsatisfiableError, type MigStrategy } from './resources.js';

/**
 * The data path between pods and the server, checked before anything starts: the `server` store
 * needs the URL pods reach the server at; the `volume` store must hold the server's job files at
 * the same path.
 */
function checkDataPath(context: ExecutorContext, config: KubernetesExecutorConfig): void {
  if (config.dataStore === 'server') {
    if (!config.serverUrl) {
      throw new ConfigError(
        `kubernetes.serverUrl: required with the server data store (the default): the URL task pods reach ` +
          `this server at, to fetch their inputs and upload their outputs (in a cluster, its Service: ` +
          `http://cellpipe.cellpipe.svc:8765); or set kubernetes.dataStore: volume with a kubernetes.dataVolume ` +
          `mounted in the server and every pod`,
      );
    }
    return;
  }
  const jobsRoot = new JobLayout(context.config.home, context.config.jobsDir).jobsRoot;
  const mount = config.dataVolume!.mountPath.replace(/\/+$/, '');
  if (jobsRoot !== mount && !jobsRoot.startsWith(`${mount}/`)) {
    throw new ConfigError(
      `kubernetes.dataVolume.mountPath: ${config.dataVolume!.mountPath} does not hold this server's job files (${jobsRoot}); ` +
        `mount the volume at the same path in the server and give that path here`,
    );
  }
}

/** Each configured team's namespace (used when kubernetes.namespacePerTeam is on). */
function teamNamespaces(teams: ExecutorContext['config']['teams']): Record<string, string> {
  const t = new Teams(teams);
  return Object.fromEntries(t.names().map((name) => [name, t.namespaceOf(name)]));
}

export async function createExecutor(context: ExecutorContext): Promise<Executor> {
  const config = executorSettings(context, 'kubernetes', KubernetesExecutorConfigSchema);
  checkDataPath(context, config);
  let kubeConfig: k8s.KubeConfig;
  try {
    kubeConfig = loadKubeConfig(config);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const executor = new KubernetesExecutor({
    kubeConfig,
    config,
    runnerArchive: await readFile(context.runnerPath),
    notebookImage: process.env.JUPYTER_IMAGE || undefined,
    passedEnv: passedEnv(context.config.passEnv),
    resultBytes: context.config.limits.resultBytes,
    warn: context.warn,
    teamNamespaces: teamNamespaces(context.config.teams),
  });
  let missing: string[];
  try {
    missing = await executor.checkAccess();
  } catch (err) {
    await executor.close();
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  if (missing.length) {
    await executor.close();
    const user = kubeConfig.getCurrentUser()?.name ?? 'the current kubeconfig user';
    throw new ConfigError(
      `the Kubernetes executor's identity (${user}) lacks rights it needs:\n` +
        missing.map((m) => `  - ${m}`).join('\n') +
        `\napply deploy/rbac.yaml (with your namespaces) to the server's ServiceAccount`,
    );
  }
  return executor;
}

/** The Kubernetes executor as the registry builds it: config checked, then the identity's RBAC. */
import { readFile } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { ConfigError } from '../../config.js';
import type { Executor } from '../executor.js';
import type { ExecutorContext } from '../registry.js';
import { executorSettings } from '../settings.js';
import { passedEnv } from '../task-env.js';
import { KubernetesExecutor } from './executor.js';
import { KubernetesExecutorConfigSchema } from './options.js';

export { KubernetesExecutor, type KubernetesExecutorDeps } from './executor.js';
export { computeInventory } from './inventory.js';
export {
  KubernetesExecutorConfigSchema,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './options.js';
export { placeResources, UnsatisfiableError, type MigStrategy } from './resources.js';

export async function createExecutor(context: ExecutorContext): Promise<Executor> {
  const config = executorSettings(context, 'kubernetes', KubernetesExecutorConfigSchema);
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const executor = new KubernetesExecutor({
    kubeConfig,
    config,
    runnerArchive: await readFile(context.runnerPath),
    notebookImage: process.env.JUPYTER_IMAGE || undefined,
    passedEnv: passedEnv(context.config.passEnv),
    resultBytes: context.config.limits.resultBytes,
    warn: context.warn,
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

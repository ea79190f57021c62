export { KubernetesExecutor, type KubernetesExecutorDeps } from './executor.js';
export { computeInventory } from './inventory.js';
export {
  KubernetesExecutorConfigSchema,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './options.js';
export { placeResources, UnsatisfiableError, type MigStrategy } from './resources.js';

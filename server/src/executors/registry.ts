/**
 * Every executor, by the name `--executor` and the config's `executor:` take. An executor is a
 * folder whose `index.ts` exports `createExecutor`; adding one (Slurm, Ray) is that folder and one
 * line below. Modules load on use, so the local executor never pays for the Kubernetes client.
 */
import type { ServerConfig } from '../config.js';
import type { Executor } from './executor.js';

export interface ExecutorContext {
  /** The server's configuration: an executor reads its own section (`config[name]`) and shared settings. */
  config: ServerConfig;
  /** The task runner's zipapp, cellpipe_runner.pyz. */
  runnerPath: string;
  /** Problems the executor works around by itself. */
  warn(message: string): void;
}

export interface ExecutorModule {
  /**
   * A ready executor: its configuration checked and its environment probed (permissions, devices).
   * Throws ConfigError with a message that says what to change.
   */
  createExecutor(context: ExecutorContext): Promise<Executor>;
}

export const EXECUTORS = {
  local: () => import('./local/index.js'),
  kubernetes: () => import('./kubernetes/index.js'),
} satisfies Record<string, () => Promise<ExecutorModule>>;

export type ExecutorName = keyof typeof EXECUTORS;
export const EXECUTOR_NAMES = Object.keys(EXECUTORS) as [ExecutorName, ...ExecutorName[]];

export async function createExecutor(name: ExecutorName, context: ExecutorContext): Promise<Executor> {
  const module: ExecutorModule = await EXECUTORS[name]();
  return module.createExecutor(context);
}

/** The local executor as the registry builds it: GPUs declared (`gpus`, CELLPIPE_GPUS) or found by nvidia-smi. */
import { z } from 'zod';
import { ConfigError } from '../../config.js';
import { loadInventory } from '../../gpu/inventory.js';
import type { Executor } from '../executor.js';
import type { ExecutorContext } from '../registry.js';
import { executorSettings } from '../settings.js';
import { LocalExecutor, type LocalExecutorOptions } from './local-executor.js';
import { checkMultiUser } from './multi-user.js';
import { RunAsSchema } from './run-as.js';

export { LocalExecutor, defaultRunnerPath, type LocalExecutorOptions } from './local-executor.js';

/** The `local:` section of the server configuration. */
export const LocalExecutorConfigSchema = z
  .object({
    /** SIGTERM → SIGKILL grace for cancelled and timed-out tasks, in ms (default 5000). */
    killGraceMs: z.number().int().min(0).optional(),
    /** Most task processes at once on this machine (default 2 × CPUs, at least 4). */
    maxTasks: z.number().int().min(1).optional(),
    /** Cellpipe user → OS user each one's tasks run as (multi-user.ts); needed with more than one user. */
    runAs: RunAsSchema.optional(),
    /** How often nvidia-smi samples the GPUs of running attempts, in ms (default 5000). */
    gpuSampleIntervalMs: z.number().int().min(100).optional(),
  })
  .strict();

export async function createExecutor(context: ExecutorContext): Promise<Executor> {
  const settings = executorSettings(context, 'local', LocalExecutorConfigSchema);
  const multiUser = checkMultiUser(context.config, settings.runAs, context.runnerPath);
  const options: LocalExecutorOptions = {
    runnerPath: context.runnerPath,
    passEnv: context.config.passEnv,
    resultBytes: context.config.limits.resultBytes,
    logBytesPerAttempt: context.config.limits.logBytesPerAttempt,
    warn: context.warn,
  };
  if (multiUser) {
    options.runAs = { map: multiUser.runAs, jobsRoot: multiUser.jobsRoot };
    options.runnerPath = multiUser.runnerPath;
  }
  try {
    options.devices = await loadInventory(context.config.gpus);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  if (context.config.python) options.python = context.config.python;
  if (settings.killGraceMs !== undefined) options.killGraceMs = settings.killGraceMs;
  if (settings.maxTasks !== undefined) options.maxTasks = settings.maxTasks;
  if (settings.gpuSampleIntervalMs !== undefined) options.gpuSampling = { intervalMs: settings.gpuSampleIntervalMs };
  return new LocalExecutor(options);
}

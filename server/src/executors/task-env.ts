/**
 * The environment a task runs with, the same rule for every executor. A task never inherits the
 * server's environment: that holds the server's own configuration, CELLPIPE_TOKENS (every user's
 * token) among it. It gets, in increasing precedence:
 *
 *   1. the executor's base (the local executor: PATH, HOME, LANG, USER, LOGNAME; a pod: its image's);
 *   2. the server variables the configuration passes on by name (`passEnv`);
 *   3. the task's own `env`;
 *   4. Cellpipe's: CELLPIPE_JOB_ID, CELLPIPE_TASK, CELLPIPE_ATTEMPT, PYTHONUNBUFFERED=1, and the
 *      runner's settings the server was started with (CELLPIPE_RUNNER_ENGINE).
 */
import type { LaunchSpec } from './executor.js';

/** Server variables that configure the task runner itself, passed on when set. */
const RUNNER_SETTINGS = ['CELLPIPE_RUNNER_ENGINE'] as const;

/** Values of the named server variables; unset ones are left out. */
export function passedEnv(names: readonly string[], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = from[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export interface TaskEnvSources {
  /** The executor's base variables. */
  base?: Record<string, string>;
  /** Allow-listed server variables (`passedEnv(config.passEnv)`). */
  passed?: Record<string, string>;
  /** Where runner settings are read from (default: the server's environment). */
  server?: NodeJS.ProcessEnv;
}

export function taskEnvironment(spec: LaunchSpec, sources: TaskEnvSources = {}): Record<string, string> {
  return {
    ...sources.base,
    ...sources.passed,
    ...spec.env,
    ...passedEnv(RUNNER_SETTINGS, sources.server),
    CELLPIPE_JOB_ID: spec.jobId,
    CELLPIPE_TASK: spec.taskName,
    CELLPIPE_ATTEMPT: String(spec.attempt),
    PYTHONUNBUFFERED: '1',
  };
}

/**
 * The task.json of a task whose process shares no file system with the server (a Kubernetes pod with
 * the `server` data store; any remote executor): its files in scratch space of its own, its data
 * through the server's task-data API (http/task-data-routes.ts) with the attempt's token, which the
 * executor puts in `tokenFile`.
 */
import type { LaunchSpec } from './executor.js';

export interface ServerStoreSettings {
  /** Where the task reaches the server (its Service in a cluster), without /api. */
  serverUrl: string;
  /** A folder the task may write: its scratch space. */
  workDir: string;
  /** The file the executor puts the attempt's data token in. */
  tokenFile: string;
  /** How long the task retries a transfer the server does not answer. */
  retrySeconds: number;
}

/** The attempt's task.json (spec.payload) pointed at scratch space and at the server. */
export function serverStoreTaskJson(spec: LaunchSpec, s: ServerStoreSettings): string {
  let task: Record<string, unknown>;
  try {
    task = JSON.parse(spec.payload['task.json'] ?? '') as Record<string, unknown>;
  } catch {
    throw new Error(`the task.json of ${spec.taskId} attempt ${spec.attempt} is not JSON`);
  }
  const artifactRoot = `${s.workDir}/artifacts`;
  // The job's working folder is the server's: the task works in a scratch folder of its own, which
  // no other task sees (the runner reports the files it writes there).
  return JSON.stringify({
    ...task,
    workDir: `${s.workDir}/work`,
    artifactRoot,
    outputDir: `${artifactRoot}/${spec.taskName}`,
    resultPath: `${s.workDir}/result.json`,
    notebookPath: `${s.workDir}/executed.ipynb`,
    dataStore: {
      kind: 'server',
      url: `${s.serverUrl.replace(/\/+$/, '')}/api/task-data`,
      tokenFile: s.tokenFile,
      retrySeconds: s.retrySeconds,
    },
  });
}

/**
 * Where a job's files live: under CELLPIPE_HOME, or the configured jobsDir. Job ids and task names are
 * validated by pattern before they get here, so they are safe path segments.
 *
 *   jobs/<jobId>/tasks/<task>/attempt-<n>/task.json the runner's input for attempt n
 *   jobs/<jobId>/tasks/<task>/attempt-<n>/result.json, executed.ipynb
 *   jobs/<jobId>/tasks/<task>/attempt-<n>.log       stdout+stderr of attempt n
 *   jobs/<jobId>/artifacts/<task>/{vars,files}/     outputs (CELLPIPE_OUTPUT_DIR = .../files)
 *   jobs/<jobId>/work/                              the tasks' working folder, unless the job names one
 */
import { join } from 'node:path';

export class JobLayout {
  /** Where job folders live: `<home>/jobs` unless the configuration's `jobsDir` says otherwise. */
  readonly jobsRoot: string;

  constructor(
    readonly home: string,
    jobsDir?: string,
  ) {
    this.jobsRoot = jobsDir ?? join(home, 'jobs');
  }

  get dbPath(): string {
    return join(this.home, 'cellpipe.db');
  }
  jobDir(jobId: string): string {
    return join(this.jobsRoot, jobId);
  }
  taskDir(jobId: string, task: string): string {
    return join(this.jobDir(jobId), 'tasks', task);
  }
  attemptDir(jobId: string, task: string, attempt: number): string {
    return join(this.taskDir(jobId, task), `attempt-${attempt}`);
  }
  logPath(jobId: string, task: string, attempt: number): string {
    return join(this.taskDir(jobId, task), `attempt-${attempt}.log`);
  }
  resultPath(jobId: string, task: string, attempt: number): string {
    return join(this.attemptDir(jobId, task, attempt), 'result.json');
  }
  notebookPath(jobId: string, task: string, attempt: number): string {
    return join(this.attemptDir(jobId, task, attempt), 'executed.ipynb');
  }
  /** The working folder of a job that names none (task.json `workDir`): its tasks share it. */
  workDir(jobId: string): string {
    return join(this.jobDir(jobId), 'work');
  }
  artifactRoot(jobId: string): string {
    return join(this.jobDir(jobId), 'artifacts');
  }
  outputDir(jobId: string, task: string): string {
    return join(this.artifactRoot(jobId), task);
  }
  filesDir(jobId: string, task: string): string {
    return join(this.outputDir(jobId, task), 'files');
  }
}

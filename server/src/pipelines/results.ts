/**
 * The results of a pipeline's runs side by side: one row per job (newest first), one column per task
 * result any of them published. Runs are the jobs that ran the pipeline by name, saved version or not
 * (an ad-hoc run records the version its content was saved as), so a notebook run by hand and on a
 * schedule lands in one table.
 */
import { resultType, type JobState, type PipelineResults, type ResultColumn, type ResultRun } from '@cellpipe/schema';
import type { JobServiceApi } from '../jobs/job-service.js';

export interface ResultsQuery {
  states?: JobState[];
  version?: number;
  limit: number;
}

export function pipelineResults(
  jobs: Pick<JobServiceApi, 'list' | 'taskResults'>,
  owner: string,
  name: string,
  query: ResultsQuery,
): PipelineResults {
  const page = jobs.list({
    owner,
    pipeline: name,
    limit: query.limit,
    ...(query.states ? { states: query.states } : {}),
    ...(query.version !== undefined ? { pipelineVersion: query.version } : {}),
  });
  const columns = new Map<string, ResultColumn>();
  const runs: ResultRun[] = page.items.map((job) => {
    const results = jobs.taskResults(job.id);
    for (const [task, values] of Object.entries(results)) {
      for (const [result, value] of Object.entries(values)) {
        const key = `${task}\u0000${result}`;
        const type = resultType(value);
        const column = columns.get(key);
        if (!column) columns.set(key, { task, name: result, type });
        else if (column.type !== type) column.type = 'mixed';
      }
    }
    const run: ResultRun = {
      jobId: job.id,
      jobName: job.name,
      state: job.state,
      hash: job.pipelineRef?.hash ?? '',
      createdAt: job.createdAt,
      parameters: job.parameters ?? {},
      results,
    };
    if (job.pipelineRef?.version !== undefined) run.version = job.pipelineRef.version;
    if (job.finishedAt) run.finishedAt = job.finishedAt;
    return run;
  });
  // Columns in the order the newest runs first show them: task order, then the order reported.
  return { name, owner, columns: [...columns.values()], runs, total: page.total ?? runs.length };
}

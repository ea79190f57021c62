/** The event a job's end becomes: what every notifier renders, frozen in the outbox when the job ends. */
import type { JobEndEvent, TaskResults } from '@cellpipe/schema';
import type { JobRecord, TaskRecord } from '../store/store.js';

export function jobEndEvent(
  job: JobRecord,
  tasks: readonly TaskRecord[],
  options: { key: string; link?: string },
): JobEndEvent {
  const finishedAt = job.finishedAt ?? new Date().toISOString();
  const started = Date.parse(job.startedAt ?? job.createdAt);
  const failed = tasks.find((t) => t.state === 'failed');
  const results: Record<string, TaskResults> = {};
  for (const t of tasks) if (t.results && Object.keys(t.results).length) results[t.name] = t.results;
  const succeeded = tasks.filter((t) => t.state === 'succeeded').length;
  const failedCount = tasks.filter((t) => t.state === 'failed').length;
  const event: JobEndEvent = {
    type: 'job.finished',
    id: options.key,
    at: finishedAt,
    job: {
      id: job.id,
      name: job.name,
      owner: job.owner,
      state: job.state,
      createdAt: job.createdAt,
      finishedAt,
      pipeline: {
        name: job.pipelineRef?.name ?? job.pipeline.metadata.name,
        ...(job.pipelineRef?.version !== undefined ? { version: job.pipelineRef.version } : {}),
        ...(job.pipelineRef ? { hash: job.pipelineRef.hash } : {}),
      },
      parameters: job.parameters,
    },
    tasks: { total: tasks.length, succeeded, failed: failedCount, other: tasks.length - succeeded - failedCount },
    results,
  };
  if (job.error) event.job.error = job.error;
  if (job.startedAt) event.job.startedAt = job.startedAt;
  if (Number.isFinite(started)) event.job.durationMs = Math.max(0, Date.parse(finishedAt) - started);
  if (job.scheduleId) event.job.scheduleId = job.scheduleId;
  if (job.scheduleSlot) event.job.scheduleSlot = job.scheduleSlot;
  if (failed?.error) {
    const { traceback: _traceback, ...error } = failed.error;
    event.failedTask = { name: failed.name, error };
  }
  if (options.link) event.link = options.link;
  return event;
}

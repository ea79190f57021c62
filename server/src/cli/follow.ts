/** Follow a job's events until it finishes, feeding a progress display. */
import { isTerminalJobState, type Job } from '@cellpipe/schema';
import { ApiError } from '../client/api-client.js';
import type { ProgressSink } from './progress.js';
import { CliError, type Target } from './target.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves with the finished job, or with its current state when `signal` aborts. The event stream
 * starts with a snapshot, so reconnecting after a dropped connection loses nothing.
 */
export async function followJob(target: Target, jobId: string, sink: ProgressSink, signal: AbortSignal): Promise<Job> {
  let failures = 0;
  for (;;) {
    try {
      for await (const ev of target.client.events({ job: jobId, signal })) {
        failures = 0;
        if (ev.type === 'task') sink.task(ev.event.task);
        else {
          sink.job(ev.job);
          if (isTerminalJobState(ev.job.state)) {
            const job = await target.client.getJob(jobId);
            for (const t of job.tasks) sink.task(t);
            return job;
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return target.client.getJob(jobId);
      if (e instanceof ApiError && e.status !== 0 && e.status < 500) throw e;
    }
    if (signal.aborted) return target.client.getJob(jobId);
    failures += 1;
    if (failures > 30) throw new CliError(`lost the connection to ${target.client.url} while following job ${jobId}`);
    await sleep(Math.min(200 * failures, 5000));
    if (target.reconnect) {
      try {
        await target.reconnect();
      } catch {
        continue;
      }
    }
    try {
      const job = await target.client.getJob(jobId);
      if (isTerminalJobState(job.state)) {
        for (const t of job.tasks) sink.task(t);
        return job;
      }
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0 && e.status < 500) throw e;
    }
  }
}

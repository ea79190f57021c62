/** Ownership rules: a user reads and changes only their own jobs; admins reach all of them. */
import type { Job } from '@cellpipe/schema';
import type { Principal } from '../auth/authenticator.js';
import type { JobServiceApi } from '../jobs/job-service.js';
import { HttpNotFoundError } from './errors.js';

export function canSee(p: Principal, owner: string): boolean {
  return p.admin || p.user === owner;
}

/** The job if the caller may see it; otherwise 404 (never 403, so ids of other users' jobs leak nothing). */
export function visibleJob(service: JobServiceApi, p: Principal, id: string): Job {
  const job = service.get(id);
  if (!job || !canSee(p, job.owner)) throw new HttpNotFoundError(`job ${id} not found`);
  return job;
}

export function visibleTask(service: JobServiceApi, p: Principal, id: string, task: string): Job {
  const job = visibleJob(service, p, id);
  if (!job.tasks.some((t) => t.name === task)) throw new HttpNotFoundError(`job ${id} has no task "${task}"`);
  return job;
}

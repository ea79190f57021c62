/**
 * Ownership rules, in one place. A user reads, lists and follows only their own jobs (with their
 * logs, files and events) and schedules, plus those of the members of their teams that have
 * `visibility: team`; they change (cancel, delete, edit) only their own. Admins reach everything.
 * Whatever a caller may not see is "not found" (404, never 403), so ids of others' work leak nothing.
 */
import type { Job } from '@cellpipe/schema';
import type { Principal } from '../auth/authenticator.js';
import { Teams } from '../auth/teams.js';
import type { JobServiceApi } from '../jobs/job-service.js';
import { ForbiddenError, HttpNotFoundError } from './errors.js';

export class Access {
  constructor(readonly teams: Teams = new Teams()) {}

  canSee(p: Principal, owner: string): boolean {
    return p.admin || p.user === owner || this.teams.shares(p, owner);
  }

  /** Owners whose work a listing shows the caller; undefined: everyone's (admins). */
  visibleOwners(p: Principal): string[] | undefined {
    if (p.admin) return undefined;
    return [p.user, ...this.teams.sharedOwners(p)];
  }

  /** The job if the caller may see it; otherwise 404. */
  visibleJob(service: JobServiceApi, p: Principal, id: string): Job {
    const job = service.get(id);
    if (!job || !this.canSee(p, job.owner)) throw new HttpNotFoundError(`job ${id} not found`);
    return job;
  }

  visibleTask(service: JobServiceApi, p: Principal, id: string, task: string): Job {
    const job = this.visibleJob(service, p, id);
    if (!job.tasks.some((t) => t.name === task)) throw new HttpNotFoundError(`job ${id} has no task "${task}"`);
    return job;
  }

  /** The job if the caller may change it: 404 when they cannot see it, 403 when they only see it. */
  ownJob(service: JobServiceApi, p: Principal, id: string, what: string): Job {
    const job = this.visibleJob(service, p, id);
    this.mustOwn(p, job.owner, `job ${id}`, what);
    return job;
  }

  /** Throws 403 when a visible thing of someone else's is to be changed. */
  mustOwn(p: Principal, owner: string, thing: string, what: string): void {
    if (!p.admin && p.user !== owner) {
      throw new ForbiddenError(`${thing} belongs to ${owner}: only its owner or an admin can ${what} it`);
    }
  }
}

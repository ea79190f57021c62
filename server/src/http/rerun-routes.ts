/**
 * "Re-run with my changes": POST /api/jobs/:id/rerun-plan says which tasks a run of the current
 * notebook (or pipeline) would take from job :id and why the others run again; POST
 * /api/jobs/:id/rerun-changes starts that run. Both take the body of a submission.
 */
import { Router, type Request, type Response } from 'express';
import { JobIdSchema, SubmitJobRequestSchema } from '@cellpipe/schema';
import { z } from 'zod';
import type { JobServiceApi } from '../jobs/job-service.js';
import { principal } from './auth-middleware.js';
import type { Access } from './access.js';
import { submissionCounter } from './jobs-routes.js';
import type { HttpMetrics } from './metrics.js';
import { input, validate } from './validate.js';

const Schemas = { params: z.object({ id: JobIdSchema }), body: SubmitJobRequestSchema };

export function rerunRouter({
  service,
  access,
  metrics,
}: {
  service: JobServiceApi;
  access: Access;
  metrics: HttpMetrics;
}): Router {
  const r = Router();

  r.post('/:id/rerun-plan', validate(Schemas), async (_req: Request, res: Response) => {
    const { params, body } = input(res, Schemas);
    access.visibleJob(service, principal(res), params.id);
    res.json(await service.rerunPlan(params.id, body));
  });

  r.post('/:id/rerun-changes', submissionCounter(metrics), validate(Schemas), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { params, body } = input(res, Schemas);
    // It runs new code as the job's owner: theirs or an admin's to start, never a teammate's.
    access.ownJob(service, p, params.id, 're-run');
    const job = await service.rerunWithChanges(params.id, body, p.user);
    res.status(201).location(`/api/jobs/${job.id}`).json(job);
  });

  return r;
}

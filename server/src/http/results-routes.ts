/**
 * GET /api/pipelines/:name/results: the results of a pipeline's runs side by side (the caller's runs,
 * or with `?user=` another user's, for admins).
 */
import { Router, type Request, type Response } from 'express';
import { PipelineNameSchema, PipelineResultsQuerySchema } from '@cellpipe/schema';
import { z } from 'zod';
import type { JobServiceApi } from '../jobs/job-service.js';
import { pipelineResults } from '../pipelines/results.js';
import { principal } from './auth-middleware.js';
import { ForbiddenError } from './errors.js';
import { input, validate } from './validate.js';

const Schemas = {
  results: { params: z.object({ name: PipelineNameSchema }), query: PipelineResultsQuerySchema },
};

export function resultsRouter(service: Pick<JobServiceApi, 'list' | 'taskResults'>): Router {
  const r = Router();
  r.get('/:name/results', validate(Schemas.results), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.results);
    const p = principal(res);
    if (query.user && query.user !== p.user && !p.admin) {
      throw new ForbiddenError("only admins can read other users' results");
    }
    res.json(
      pipelineResults(service, query.user ?? p.user, params.name, {
        limit: query.limit,
        ...(query.state ? { states: query.state } : {}),
        ...(query.version !== undefined ? { version: query.version } : {}),
      }),
    );
  });
  return r;
}

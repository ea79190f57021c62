/**
 * /api/pipelines...: save a version, list, versions, show, diff, export, import, run a version.
 * A user's pipelines are theirs; admins may name another owner with `?user=`.
 */
import { Router, type Request, type Response } from 'express';
import {
  ImportPipelineRequestSchema,
  PipelineNameSchema,
  RunVersionRequestSchema,
  SavePipelineRequestSchema,
} from '@cellpipe/schema';
import { z } from 'zod';
import type { PipelineService } from '../pipelines/pipeline-service.js';
import { principal } from './auth-middleware.js';
import { ForbiddenError } from './errors.js';
import { input, validate } from './validate.js';

const VersionParam = z.union([z.literal('latest'), z.coerce.number().int().min(1, { message: 'versions start at 1' })]);
const OwnerQuery = z.object({ user: z.string().min(1).max(128).optional() });
const NameParams = z.object({ name: PipelineNameSchema });
const VersionParams = NameParams.extend({ version: VersionParam });

const Schemas = {
  save: { body: SavePipelineRequestSchema },
  import: { body: ImportPipelineRequestSchema },
  list: { query: OwnerQuery },
  versions: { params: NameParams, query: OwnerQuery },
  version: { params: VersionParams, query: OwnerQuery },
  diff: {
    params: NameParams,
    query: OwnerQuery.extend({ from: VersionParam, to: VersionParam.default('latest') }),
  },
  run: { params: VersionParams, body: RunVersionRequestSchema },
};

/** Whose pipelines a request reads: the caller's, or (admins) the one named by `?user=`. */
function ownerOf(res: Response, user: string | undefined): string {
  const p = principal(res);
  if (user && user !== p.user && !p.admin) throw new ForbiddenError("only admins can read other users' pipelines");
  return user ?? p.user;
}

export function pipelinesRouter(pipelines: PipelineService): Router {
  const r = Router();

  r.post('/', validate(Schemas.save), async (_req: Request, res: Response) => {
    const { body } = input(res, Schemas.save);
    const result = await pipelines.save(principal(res).user, body);
    const v = result.version;
    res
      .status(result.created && !result.dryRun ? 201 : 200)
      .location(`/api/pipelines/${v.name}/versions/${v.version}`)
      .json(result);
  });

  r.post('/import', validate(Schemas.import), async (_req: Request, res: Response) => {
    const { body } = input(res, Schemas.import);
    const result = await pipelines.import(principal(res).user, body);
    res.status(result.created ? 201 : 200).json(result);
  });

  r.get('/', validate(Schemas.list), (_req: Request, res: Response) => {
    const { query } = input(res, Schemas.list);
    const p = principal(res);
    // Admins see everyone's unless they ask for one user.
    const owner = p.admin ? query.user : ownerOf(res, query.user);
    res.json({ items: pipelines.list(owner) });
  });

  r.get('/:name/versions', validate(Schemas.versions), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.versions);
    res.json({ items: pipelines.versions(ownerOf(res, query.user), params.name) });
  });

  r.get('/:name/versions/:version', validate(Schemas.version), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.version);
    res.json(pipelines.version(ownerOf(res, query.user), params.name, params.version));
  });

  r.get('/:name/versions/:version/export', validate(Schemas.version), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.version);
    const text = pipelines.export(ownerOf(res, query.user), params.name, params.version);
    res.type('application/yaml').send(text);
  });

  r.get('/:name/diff', validate(Schemas.diff), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.diff);
    res.json(pipelines.diff(ownerOf(res, query.user), params.name, query.from, query.to));
  });

  r.delete('/:name', validate(Schemas.versions), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.versions);
    pipelines.remove(ownerOf(res, query.user), params.name);
    res.status(204).end();
  });

  r.post('/:name/versions/:version/run', validate(Schemas.run), async (_req: Request, res: Response) => {
    const { params, body } = input(res, Schemas.run);
    const job = await pipelines.run(principal(res).user, params.name, params.version, body);
    res.status(201).location(`/api/jobs/${job.id}`).json(job);
  });

  return r;
}

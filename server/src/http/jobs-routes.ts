/** /api/jobs...: submit, list, read, cancel (a job or one task), re-run, delete, logs and task files. */
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import {
  JobIdSchema,
  JobListQuerySchema,
  RerunRequestSchema,
  SubmitJobRequestSchema,
  TaskNameSchema,
  type JobList,
} from '@cellpipe/schema';
import { z } from 'zod';
import type { JobServiceApi, TaskFileKind } from '../jobs/job-service.js';
import { StoreError } from '../store/errors.js';
import { principal } from './auth-middleware.js';
import type { Access } from './access.js';
import { BadRequestError, ForbiddenError } from './errors.js';
import type { HttpMetrics } from './metrics.js';
import { StreamSlots, writeWithBackpressure } from './streams.js';
import { input, validate } from './validate.js';

const JobParams = z.object({ id: JobIdSchema });
const TaskParams = z.object({ id: JobIdSchema, task: TaskNameSchema });
const Flag = z
  .enum(['1', '0', 'true', 'false', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true' || v === '');

const Schemas = {
  submit: { body: SubmitJobRequestSchema },
  list: { query: JobListQuerySchema },
  job: { params: JobParams },
  rerun: { params: JobParams, body: RerunRequestSchema },
  logs: {
    params: TaskParams,
    query: z.object({ follow: Flag, attempt: z.coerce.number().int().min(1).optional() }),
  },
  task: { params: TaskParams },
  artifact: { params: TaskParams.extend({ path: z.array(z.string().min(1)).min(1) }) },
};

export interface JobsRoutesOptions {
  service: JobServiceApi;
  access: Access;
  metrics: HttpMetrics;
  shutdown?: AbortSignal;
}

/** Streams a file the service opened (and checked) at the pace the reader reads it. */
async function sendOpened(
  res: Response,
  file: { handle: FileHandle; size: number },
  headers: Record<string, string>,
): Promise<void> {
  res.status(200).set({ ...headers, 'Content-Length': String(file.size) });
  try {
    await pipeline(file.handle.createReadStream({ autoClose: false }), res);
  } catch (err) {
    // A reader that went away mid-file is not an error of the server.
    if (!res.destroyed) throw err;
  } finally {
    await file.handle.close();
  }
}

/** Counts a submission when the response is sent, so schema rejections (400 before the handler) count too. */
export function submissionCounter(metrics: HttpMetrics) {
  return (_req: Request, res: Response, next: () => void): void => {
    res.on('finish', () => {
      if (res.statusCode === 201) metrics.submissions.inc({ result: 'accepted' });
      else if (res.statusCode === 400) metrics.submissions.inc({ result: 'rejected' });
    });
    next();
  };
}

export function jobsRouter({ service, access, metrics, shutdown }: JobsRoutesOptions): Router {
  const r = Router();

  const countSubmission = submissionCounter(metrics);

  r.post('/', countSubmission, validate(Schemas.submit), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { body } = input(res, Schemas.submit);
    const job = await service.submit(p.user, body);
    res.status(201).location(`/api/jobs/${job.id}`).json(job);
  });

  r.get('/', validate(Schemas.list), (_req: Request, res: Response) => {
    const p = principal(res);
    const { query } = input(res, Schemas.list);
    if (query.user && !access.canSee(p, query.user)) {
      throw new ForbiddenError("only admins and teammates sharing their jobs can list other users' jobs");
    }
    // Everything the caller may see (theirs, their teams' shared jobs; all for admins), or one user's.
    const owners = query.user ? [query.user] : access.visibleOwners(p);
    let list: JobList;
    try {
      list = service.list({
        owners,
        states: query.state,
        search: query.q,
        createdFrom: query.since,
        createdBefore: query.until,
        limit: query.limit,
        cursor: query.cursor,
        viewer: p.user,
      });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid-cursor')
        throw new BadRequestError(err.message, [{ path: 'query.cursor', message: err.message }]);
      throw err;
    }
    res.json(list);
  });

  r.get('/:id', validate(Schemas.job), (_req: Request, res: Response) => {
    const { params } = input(res, Schemas.job);
    res.json(access.visibleJob(service, principal(res), params.id));
  });

  r.post('/:id/cancel', validate(Schemas.job), async (_req: Request, res: Response) => {
    const { params } = input(res, Schemas.job);
    access.ownJob(service, principal(res), params.id, 'cancel');
    res.json(await service.cancel(params.id));
  });

  r.post('/:id/tasks/:task/cancel', validate(Schemas.task), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { params } = input(res, Schemas.task);
    const job = access.visibleTask(service, p, params.id, params.task);
    access.mustOwn(p, job.owner, `job ${params.id}`, 'cancel');
    res.json(await service.cancelTask(params.id, params.task, p.user));
  });

  r.post('/:id/rerun', countSubmission, validate(Schemas.rerun), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { params, body } = input(res, Schemas.rerun);
    // A re-run is the owner's job (an admin's is recorded as submitted by them): teammates who only
    // see it may not start work as its owner.
    access.ownJob(service, p, params.id, 're-run');
    const job = await service.rerun(params.id, body.mode, p.user);
    res.status(201).location(`/api/jobs/${job.id}`).json(job);
  });

  r.delete('/:id', validate(Schemas.job), async (_req: Request, res: Response) => {
    const { params } = input(res, Schemas.job);
    access.ownJob(service, principal(res), params.id, 'delete');
    await service.remove(params.id);
    res.status(204).end();
  });

  const logStreams = new StreamSlots(service.limits.logStreamsPerUser);
  r.get('/:id/tasks/:task/logs', validate(Schemas.logs), async (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.logs);
    const p = principal(res);
    access.visibleTask(service, p, params.id, params.task);
    const release = logStreams.take(p.user);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.on('close', onClose);
    shutdown?.addEventListener('abort', onClose, { once: true });
    const chunks = service
      .readLogs(params.id, params.task, {
        follow: query.follow,
        attempt: query.attempt,
        signal: abort.signal,
      })
      [Symbol.asyncIterator]();
    try {
      const headers = {
        'Content-Type': 'text/plain; charset=utf-8',
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      };
      // Following: commit to 200 at once (the first line may be minutes away). Otherwise read the
      // first chunk first, so a missing log still gets a JSON error.
      if (query.follow) res.status(200).set(headers).flushHeaders();
      let next = await chunks.next();
      if (!query.follow) res.status(200).set(headers);
      while (!next.done) {
        if (abort.signal.aborted) break;
        await writeWithBackpressure(res, next.value, abort.signal);
        next = await chunks.next();
      }
      if (!res.writableEnded) res.end();
    } catch (err) {
      if (abort.signal.aborted) {
        if (!res.writableEnded) res.end();
        return;
      }
      throw err;
    } finally {
      // A reader that left mid-file: close the log file now, not when the generator is collected.
      await chunks.return?.();
      release();
      res.off('close', onClose);
      shutdown?.removeEventListener('abort', onClose);
    }
  });

  const fileRoute = (which: 'notebook' | 'result', type: string) => async (_req: Request, res: Response) => {
    const { params } = input(res, Schemas.task);
    access.visibleTask(service, principal(res), params.id, params.task);
    const file = await service.openTaskFile(params.id, params.task, which satisfies TaskFileKind);
    await sendOpened(res, file, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  };
  r.get('/:id/tasks/:task/notebook', validate(Schemas.task), fileRoute('notebook', 'application/x-ipynb+json'));
  r.get('/:id/tasks/:task/result', validate(Schemas.task), fileRoute('result', 'application/json'));

  r.get('/:id/tasks/:task/artifacts/*path', validate(Schemas.artifact), async (_req: Request, res: Response) => {
    const { params } = input(res, Schemas.artifact);
    access.visibleTask(service, principal(res), params.id, params.task);
    if (params.path.some((s) => s === '..' || s === '.' || s.includes('\0'))) {
      throw new BadRequestError('artifact paths may not contain "." or ".." segments', [
        { path: 'params.path', message: 'relative segments are not allowed' },
      ]);
    }
    const file = await service.openTaskFile(params.id, params.task, { artifact: params.path.join('/') });
    // Files written by user code: never let a browser run them in the API's origin.
    res.type(params.path[params.path.length - 1]!);
    await sendOpened(res, file, {
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "sandbox; default-src 'none'",
    });
  });

  return r;
}

/**
 * /api/task-data: where a task's pod reads its inputs and writes its outputs when it shares no file
 * system with the server (the Kubernetes executor's `server` data store; the runner's ServerStore).
 *
 *   GET /api/task-data/:job/:task/:attempt/inputs/:from/:name   an input (another task's output)
 *   PUT /api/task-data/:job/:task/:attempt/vars/:name           an output variable (a pickle)
 *   PUT /api/task-data/:job/:task/:attempt/files/*path          an artifact
 *   PUT /api/task-data/:job/:task/:attempt/notebook             the executed notebook
 *   PUT /api/task-data/:job/:task/:attempt/result               result.json
 *
 * Each request carries the attempt's token (`Authorization: Bearer cpa_...`), not a user's: 401 when
 * it opens no attempt (unknown, or its attempt has ended), 403 when it opens another attempt than the
 * one the URL names, or asks for an input the task does not read or an output it does not declare.
 * Files land where the local executor's runner writes them (store/layout.ts), so the monitor, the
 * orchestrator and downstream tasks find them the same way; every write is atomic and bounded by
 * the configured limits (uploadBytes, resultBytes).
 */
import { Router, type Request, type Response } from 'express';
import { JobIdSchema, PythonNameSchema, TaskNameSchema } from '@cellpipe/schema';
import { join } from 'node:path';
import { z } from 'zod';
import { extractToken } from '../auth/authenticator.js';
import { hashAttemptToken, isAttemptToken } from '../auth/attempt-token.js';
import type { Limits } from '../limits.js';
import type { JobLayout } from '../store/layout.js';
import type { Store } from '../store/store.js';
import { BadRequestError, ForbiddenError, HttpNotFoundError, UnauthorizedError } from './errors.js';
import { receiveFile, sendFile } from './file-transfer.js';
import { input, validate } from './validate.js';

export interface TaskDataOptions {
  store: Pick<Store, 'openAttemptByToken' | 'taskBase'>;
  layout: JobLayout;
  limits: Pick<Limits, 'uploadBytes' | 'resultBytes'>;
}

const Attempt = z.object({
  job: JobIdSchema,
  task: TaskNameSchema,
  attempt: z.coerce.number().int().min(1),
});
/** Python folds identifiers with NFKC, and so does the runner: names compare folded. */
const Name = PythonNameSchema.transform((n) => n.normalize('NFKC'));
const Schemas = {
  attempt: { params: Attempt },
  input: { params: Attempt.extend({ from: TaskNameSchema, name: Name }) },
  output: { params: Attempt.extend({ name: Name }) },
  file: { params: Attempt.extend({ path: z.array(z.string().min(1).max(255)).min(1).max(64) }) },
};

/** The inputs and outputs an attempt's task was frozen with (jobs/freeze.ts). */
interface TaskWiring {
  inputs: { name: string; from: string }[];
  outputs: string[];
}

function wiringOf(base: unknown): TaskWiring {
  const b = (base ?? {}) as Partial<TaskWiring>;
  return { inputs: Array.isArray(b.inputs) ? b.inputs : [], outputs: Array.isArray(b.outputs) ? b.outputs : [] };
}

export function taskDataRouter(o: TaskDataOptions): Router {
  const r = Router();
  type Params = z.output<typeof Attempt>;

  /** The attempt the URL names, once its token is checked. */
  const authorize = (req: Request, p: Params): void => {
    const token = extractToken({ headers: req.headers });
    if (!token || !isAttemptToken(token)) throw new UnauthorizedError("a task attempt's data token is required");
    const open = o.store.openAttemptByToken(hashAttemptToken(token));
    if (!open) throw new UnauthorizedError('this data token is not valid: its attempt has ended, or it never existed');
    if (open.jobId !== p.job || open.task !== p.task || open.attempt !== p.attempt) {
      throw new ForbiddenError(
        `this data token belongs to another attempt: it gives no access to attempt ${p.attempt} of task '${p.task}' of job ${p.job}`,
      );
    }
  };
  const wiring = (p: Params): TaskWiring => wiringOf(o.store.taskBase(p.job, p.task));
  const tmpDir = (p: Params): string => join(o.layout.attemptDir(p.job, p.task, p.attempt), '.uploads');
  const stored = (res: Response, bytes: number) => res.status(200).json({ bytes });

  r.get('/:job/:task/:attempt/inputs/:from/:name', validate(Schemas.input), async (req, res) => {
    const { params: p } = input(res, Schemas.input);
    authorize(req, p);
    const reads = wiring(p).inputs.some((i) => i.from === p.from && i.name.normalize('NFKC') === p.name);
    if (!reads) throw new ForbiddenError(`task '${p.task}' does not read '${p.name}' from task '${p.from}'`);
    const path = join(o.layout.outputDir(p.job, p.from), 'vars', `${p.name}.pkl`);
    if (!(await sendFile(path, req.headers.range, res))) {
      throw new HttpNotFoundError(
        `input '${p.name}' from task '${p.from}' is not on the server: task '${p.from}' did not save it`,
      );
    }
  });

  r.put('/:job/:task/:attempt/vars/:name', validate(Schemas.output), async (req, res) => {
    const { params: p } = input(res, Schemas.output);
    authorize(req, p);
    if (!wiring(p).outputs.some((n) => n.normalize('NFKC') === p.name))
      throw new ForbiddenError(`'${p.name}' is not an output of task '${p.task}'`);
    const bytes = await receiveFile(req, {
      target: join(o.layout.outputDir(p.job, p.task), 'vars', `${p.name}.pkl`),
      tmpDir: tmpDir(p),
      maxBytes: o.limits.uploadBytes,
      what: `output '${p.name}'`,
      limitName: 'uploadBytes',
    });
    stored(res, bytes);
  });

  r.put('/:job/:task/:attempt/files/*path', validate(Schemas.file), async (req, res) => {
    const { params: p } = input(res, Schemas.file);
    authorize(req, p);
    if (p.path.some((s) => s === '.' || s === '..' || s.includes('\0') || s.includes('/'))) {
      throw new BadRequestError('artifact paths may not contain ".", ".." or empty segments', [
        { path: 'params.path', message: 'relative segments are not allowed' },
      ]);
    }
    const rel = p.path.join('/');
    const bytes = await receiveFile(req, {
      target: join(o.layout.filesDir(p.job, p.task), ...p.path),
      tmpDir: tmpDir(p),
      maxBytes: o.limits.uploadBytes,
      what: `artifact '${rel}'`,
      limitName: 'uploadBytes',
    });
    stored(res, bytes);
  });

  const attemptFile = (which: 'notebook' | 'result') => async (req: Request, res: Response) => {
    const { params: p } = input(res, Schemas.attempt);
    authorize(req, p);
    const result = which === 'result';
    const bytes = await receiveFile(req, {
      target: result ? o.layout.resultPath(p.job, p.task, p.attempt) : o.layout.notebookPath(p.job, p.task, p.attempt),
      tmpDir: tmpDir(p),
      maxBytes: result ? o.limits.resultBytes : o.limits.uploadBytes,
      what: result ? 'result.json' : 'the executed notebook',
      limitName: result ? 'resultBytes' : 'uploadBytes',
    });
    stored(res, bytes);
  };
  r.put('/:job/:task/:attempt/notebook', validate(Schemas.attempt), attemptFile('notebook'));
  r.put('/:job/:task/:attempt/result', validate(Schemas.attempt), attemptFile('result'));

  return r;
}

/**
 * /api/schedules...: create, list, show, update in place, pause, resume, delete, history, and a
 * preview of fire times. A user reaches only their own schedules (others' are 404); admins all.
 * `:id` is a schedule id or, for the caller's own schedules, its name.
 */
import { Router, type Request, type Response } from 'express';
import {
  CreateScheduleRequestSchema,
  ResumeScheduleRequestSchema,
  ScheduleNameSchema,
  SchedulePreviewRequestSchema,
  UpdateScheduleRequestSchema,
} from '@cellpipe/schema';
import { z } from 'zod';
import type { Principal } from '../auth/authenticator.js';
import type { ScheduleService } from '../scheduler/schedule-service.js';
import type { ScheduleRecord } from '../store/schedule-store.js';
import type { Access } from './access.js';
import { principal } from './auth-middleware.js';
import { ForbiddenError, HttpNotFoundError } from './errors.js';
import { input, validate } from './validate.js';

const Ref = z.object({ id: z.union([z.string().regex(/^[a-z0-9]{6,32}$/), ScheduleNameSchema]) });

const Schemas = {
  create: { body: CreateScheduleRequestSchema },
  preview: { body: SchedulePreviewRequestSchema },
  list: { query: z.object({ user: z.string().min(1).max(128).optional() }) },
  one: { params: Ref },
  update: { params: Ref, body: UpdateScheduleRequestSchema },
  resume: { params: Ref, body: ResumeScheduleRequestSchema },
  history: {
    params: Ref,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(500).default(50),
      cursor: z.string().min(1).max(32).optional(),
    }),
  },
};

/** The schedule if the caller may reach it; otherwise 404 (never 403: ids of others' schedules leak nothing). */
function visible(schedules: ScheduleService, access: Access, p: Principal, ref: string): ScheduleRecord {
  const rec = schedules.find(ref, p.user);
  if (!rec || !access.canSee(p, rec.owner)) throw new HttpNotFoundError(`schedule ${ref} not found`);
  return rec;
}

export function schedulesRouter(schedules: ScheduleService, access: Access): Router {
  const r = Router();
  /** A schedule the caller may change: 404 when they cannot see it, 403 when it is a teammate's. */
  const own = (p: Principal, ref: string, what: string): ScheduleRecord => {
    const rec = visible(schedules, access, p, ref);
    access.mustOwn(p, rec.owner, `schedule ${ref}`, what);
    return rec;
  };

  r.post('/preview', validate(Schemas.preview), (_req: Request, res: Response) => {
    res.json(schedules.preview(input(res, Schemas.preview).body));
  });

  r.post('/', validate(Schemas.create), async (_req: Request, res: Response) => {
    const created = await schedules.create(principal(res).user, input(res, Schemas.create).body);
    res.status(201).location(`/api/schedules/${created.id}`).json(created);
  });

  r.get('/', validate(Schemas.list), (_req: Request, res: Response) => {
    const p = principal(res);
    const { query } = input(res, Schemas.list);
    if (query.user && query.user !== p.user && !p.admin) {
      throw new ForbiddenError("only admins can list other users' schedules");
    }
    res.json({ items: schedules.list(p.admin ? query.user : p.user) });
  });

  r.get('/:id', validate(Schemas.one), (_req: Request, res: Response) => {
    const rec = visible(schedules, access, principal(res), input(res, Schemas.one).params.id);
    res.json(schedules.detail(rec.id));
  });

  r.patch('/:id', validate(Schemas.update), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { params, body } = input(res, Schemas.update);
    const rec = own(p, params.id, 'change');
    res.json(await schedules.update(rec.id, body, p.user));
  });

  r.post('/:id/pause', validate(Schemas.one), async (_req: Request, res: Response) => {
    const p = principal(res);
    const rec = own(p, input(res, Schemas.one).params.id, 'pause');
    res.json(await schedules.pause(rec.id, p.user));
  });

  r.post('/:id/resume', validate(Schemas.resume), async (_req: Request, res: Response) => {
    const p = principal(res);
    const { params, body } = input(res, Schemas.resume);
    const rec = own(p, params.id, 'resume');
    res.json(await schedules.resume(rec.id, p.user, body.catchUp));
  });

  r.delete('/:id', validate(Schemas.one), async (_req: Request, res: Response) => {
    const rec = own(principal(res), input(res, Schemas.one).params.id, 'delete');
    await schedules.delete(rec.id);
    res.status(204).end();
  });

  r.get('/:id/history', validate(Schemas.history), (_req: Request, res: Response) => {
    const { params, query } = input(res, Schemas.history);
    const rec = visible(schedules, access, principal(res), params.id);
    res.json(schedules.history(rec.id, query.limit, query.cursor));
  });

  return r;
}

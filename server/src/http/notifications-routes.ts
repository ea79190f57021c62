/**
 * /api/notifications/targets...: the caller's notification targets and the site-wide ones (create,
 * list, show, change, delete, send a test); /api/jobs/:id/notifications: a job's deliveries with
 * every attempt. No answer holds a target's URL or secret (see notification-service.ts).
 */
import { Router, type Request, type Response } from 'express';
import { CreateTargetRequestSchema, JobIdSchema, UpdateTargetRequestSchema } from '@cellpipe/schema';
import { z } from 'zod';
import type { JobServiceApi } from '../jobs/job-service.js';
import type { NotificationService } from '../notifications/notification-service.js';
import type { Access } from './access.js';
import { principal } from './auth-middleware.js';
import { ForbiddenError } from './errors.js';
import { input, validate } from './validate.js';

const Ref = z.object({ ref: z.string().min(1).max(64) });

const Schemas = {
  list: { query: z.object({ user: z.string().min(1).max(128).optional() }) },
  create: { body: CreateTargetRequestSchema },
  one: { params: Ref },
  update: { params: Ref, body: UpdateTargetRequestSchema },
  deliveries: { params: z.object({ id: JobIdSchema }) },
};

export function targetsRouter(notifications: NotificationService): Router {
  const r = Router();

  r.get('/', validate(Schemas.list), (_req: Request, res: Response) => {
    const p = principal(res);
    const { query } = input(res, Schemas.list);
    if (query.user && query.user !== p.user && !p.admin) {
      throw new ForbiddenError("only admins can list other users' targets");
    }
    res.json({ items: notifications.list(p, query.user) });
  });

  r.post('/', validate(Schemas.create), (_req: Request, res: Response) => {
    const created = notifications.create(principal(res), input(res, Schemas.create).body);
    res.status(201).location(`/api/notifications/targets/${created.id}`).json(created);
  });

  r.get('/:ref', validate(Schemas.one), (_req: Request, res: Response) => {
    res.json(notifications.get(principal(res), input(res, Schemas.one).params.ref));
  });

  r.patch('/:ref', validate(Schemas.update), (_req: Request, res: Response) => {
    const { params, body } = input(res, Schemas.update);
    res.json(notifications.update(principal(res), params.ref, body));
  });

  r.delete('/:ref', validate(Schemas.one), (_req: Request, res: Response) => {
    notifications.remove(principal(res), input(res, Schemas.one).params.ref);
    res.status(204).end();
  });

  r.post('/:ref/test', validate(Schemas.one), async (_req: Request, res: Response) => {
    res.json(await notifications.test(principal(res), input(res, Schemas.one).params.ref));
  });

  return r;
}

/** GET /api/jobs/:id/notifications. */
export function deliveriesRouter(service: JobServiceApi, notifications: NotificationService, access: Access): Router {
  const r = Router();
  r.get('/:id/notifications', validate(Schemas.deliveries), (_req: Request, res: Response) => {
    const job = access.visibleJob(service, principal(res), input(res, Schemas.deliveries).params.id);
    res.json({ items: notifications.deliveries(job.id) });
  });
  return r;
}

/**
 * The HTTP API (see CONTRACTS.md). Handlers are plain async functions that throw; one error
 * middleware turns anything thrown into a status and an ErrorBody.
 */
import { setMaxListeners } from 'node:events';
import express, { type NextFunction, type Request, type Response } from 'express';
import { compileNotebook, JobIdSchema, type Activity, type CompileResult, type Me } from '@cellpipe/schema';
import { z } from 'zod';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { JobServiceApi } from '../jobs/job-service.js';
import { Access } from './access.js';
import { auditMount, auditRouter, auditWrites, noteAuditError, type AuditLog } from './audit.js';
import { authenticate, principal } from './auth-middleware.js';
import { browserRouter } from './browser-routes.js';
import { HttpNotFoundError, mapError } from './errors.js';
import { inventoryView, type InventoryHolders } from './inventory-view.js';
import { EventsSchemas, eventsHandler } from './events.js';
import { jobsRouter } from './jobs-routes.js';
import { jsonDepthGuard } from './json-depth.js';
import { reservedKeyGuard } from './reserved-keys.js';
import { rerunRouter } from './rerun-routes.js';
import { pipelinesRouter } from './pipelines-routes.js';
import { resultsRouter } from './results-routes.js';
import { deliveriesRouter, targetsRouter } from './notifications-routes.js';
import type { NotificationService } from '../notifications/notification-service.js';
import { schedulesRouter } from './schedules-routes.js';
import { taskDataRouter, type TaskDataOptions } from './task-data-routes.js';
import type { PipelineService } from '../pipelines/pipeline-service.js';
import type { ScheduleService } from '../scheduler/schedule-service.js';
import { createMetrics, type HttpMetrics } from './metrics.js';
import { input, validate } from './validate.js';
import { serverVersion } from './version.js';

export interface AppOptions {
  service: JobServiceApi;
  /** Saved pipelines (/api/pipelines) and schedules (/api/schedules), when the server has them. */
  pipelines?: PipelineService;
  schedules?: ScheduleService;
  /** The task-data API (/api/task-data), where task pods without a shared file system pass their data. */
  taskData?: TaskDataOptions;
  /** Notification targets (/api/notifications/targets) and each job's deliveries, when the server has them. */
  notifications?: NotificationService;
  /**
   * Where a job opens in JupyterLab (links.ts): `GET /jobs/:id` redirects there, the service URL of
   * a job under JupyterHub.
   */
  jobLink?: (jobId: string) => string;
  authenticator: Authenticator;
  /** Ownership and team visibility (default: everyone sees only their own; admins all). */
  access?: Access;
  /** Who sees holders' names in the inventory (default all). */
  inventoryHolders?: InventoryHolders;
  /** Where every state-changing call is recorded, and admins read it (GET /api/audit). */
  audit?: AuditLog;
  /** Remembers each caller's groups (the user directory), so teams resolve for owners who are not calling. */
  onPrincipal?: (p: Principal) => void;
  /**
   * Where everything is mounted (default `/`): the JupyterHub service prefix, since the Hub's proxy
   * passes the whole path on.
   */
  basePath?: string;
  /** A user's JupyterLab (the Hub's user-redirect), linked from the browser page. */
  labUrl?: string;
  /** Largest JSON body (default "20mb"); larger ones get 413. */
  bodyLimit?: string;
  /** SSE heartbeat interval (default 15 s). */
  heartbeatMs?: number;
  /** Aborting it ends every open stream (SSE, followed logs) so the server can close. */
  shutdown?: AbortSignal;
  /** Collect Node process metrics (default true). */
  defaultMetrics?: boolean;
  /** Where 5xx errors are reported (default console.error). */
  logError?: (message: string, err: unknown) => void;
  /** Where the server notes what it did to protect itself, such as dropping a slow stream (default console.warn). */
  logWarn?: (message: string) => void;
}

const CompileSchemas = {
  body: z
    .object({
      notebook: z.object({ path: z.string().min(1).max(1024), content: z.record(z.string(), z.unknown()) }).strict(),
    })
    .strict(),
};

export interface CellpipeApp extends express.Express {
  metrics: HttpMetrics;
}

export function createApp(options: AppOptions): CellpipeApp {
  const { service, authenticator } = options;
  const access = options.access ?? new Access();
  const basePath = options.basePath ?? '/';
  const inventoryHolders = options.inventoryHolders ?? 'all';
  const onPrincipal = options.onPrincipal;
  const cookiePath = basePath;
  const bodyLimit = options.bodyLimit ?? '20mb';
  const logError = options.logError ?? ((message, err) => console.error(message, err));
  const logWarn = options.logWarn ?? ((message) => console.warn(message));
  // Every open stream listens for the shutdown: any number of them is expected.
  if (options.shutdown) setMaxListeners(0, options.shutdown);
  const metrics = createMetrics(service, { defaultMetrics: options.defaultMetrics });

  const app: CellpipeApp = Object.assign(express(), { metrics });
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(metrics.observe);
  // Under a prefix everything is mounted on this router; the root app answers 404 elsewhere.
  const root = express.Router();
  app.use(basePath, root);

  root.get('/healthz', (_req, res) => {
    res.json({ ok: true, version: serverVersion() });
  });
  root.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.type(metrics.registry.contentType).send(text);
  });

  // Task pods authenticate with their attempt's token, not a user's: before the API's authentication.
  if (options.taskData) root.use('/api/task-data', taskDataRouter(options.taskData));

  const api = express.Router();
  if (options.audit) api.use(auditWrites(options.audit, logError));
  api.get(
    '/events',
    authenticate(authenticator, { allowQueryToken: true, onPrincipal, cookiePath }),
    validate(EventsSchemas),
    eventsHandler(service, {
      access,
      inventoryHolders,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      shutdown: options.shutdown,
      logError,
      onDrop: (user, bytes) =>
        logWarn(`cellpipe: dropped the event stream of ${user}: ${bytes} bytes unsent (it reconnects)`),
    }),
  );
  // Authenticate before reading a (possibly large) body.
  api.use(authenticate(authenticator, { onPrincipal, cookiePath }));
  api.use(express.json({ limit: bodyLimit }));
  // Before any schema sees the body: a deeply nested value would overflow their recursion (a 500).
  api.use(jsonDepthGuard(service.limits.jsonDepth));
  api.use(reservedKeyGuard());

  api.get('/me', (_req, res) => {
    const p = principal(res);
    const me: Me = { user: p.user, admin: p.admin, groups: p.groups, teams: access.teams.of(p) };
    res.json(me);
  });
  api.post('/compile', validate(CompileSchemas), (_req, res) => {
    const { body } = input(res, CompileSchemas);
    const result: CompileResult = compileNotebook(body.notebook.content, { path: body.notebook.path });
    res.json(result);
  });
  api.get('/inventory', async (_req, res) => {
    res.json(inventoryView(await service.inventory(), principal(res), inventoryHolders, access.teams));
  });
  api.get('/activity', (_req, res) => {
    const activity: Activity = service.activity(principal(res).user);
    res.json(activity);
  });
  api.use('/jobs', auditMount('/api/jobs'), jobsRouter({ service, access, metrics, shutdown: options.shutdown }));
  api.use('/jobs', rerunRouter({ service, access, metrics }));
  api.use('/pipelines', resultsRouter(service));
  if (options.pipelines) api.use('/pipelines', auditMount('/api/pipelines'), pipelinesRouter(options.pipelines));
  if (options.schedules)
    api.use('/schedules', auditMount('/api/schedules'), schedulesRouter(options.schedules, access));
  if (options.notifications) {
    api.use('/notifications/targets', auditMount('/api/notifications/targets'), targetsRouter(options.notifications));
    api.use('/jobs', deliveriesRouter(service, options.notifications, access));
  }
  if (options.audit) api.use('/audit', auditRouter(options.audit));
  root.use('/api', api);
  const { jobLink } = options;
  if (jobLink) {
    // Anyone may follow it: it only names the job, and JupyterLab asks who they are.
    root.get('/jobs/:id', validate({ params: z.object({ id: JobIdSchema }) }), (req: Request, res: Response) => {
      res.redirect(302, jobLink(String(req.params.id)));
    });
  }
  root.use(
    browserRouter({
      authenticator,
      service,
      access,
      basePath,
      audit: options.audit,
      labUrl: options.labUrl,
      onPrincipal,
    }),
  );

  app.use((req: Request) => {
    throw new HttpNotFoundError(`no route for ${req.method} ${req.path}`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const mapped = mapError(err, bodyLimit);
    if (mapped.status >= 500) logError(`${req.method} ${req.originalUrl} failed:`, err);
    noteAuditError(res, mapped.body.error.message);
    if (res.headersSent) {
      // A stream already started: cut it so the client sees an incomplete response, not a clean end.
      res.destroy();
      return;
    }
    if (mapped.headers) res.set(mapped.headers);
    res.status(mapped.status).json(mapped.body);
  });

  return app;
}

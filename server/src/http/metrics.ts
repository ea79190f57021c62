/**
 * Prometheus metrics. Each app gets its own registry (tests start many apps in one process).
 * Job and task gauges are computed at scrape time from the job list, so they are always consistent
 * with what the API reports.
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JobStateSchema, TaskStateSchema } from '@cellpipe/schema';
import type { JobServiceApi } from '../jobs/job-service.js';

export interface HttpMetrics {
  registry: Registry;
  submissions: Counter<'result'>;
  /** Express middleware recording request durations by method, route pattern and status. */
  observe(req: Request, res: Response, next: NextFunction): void;
}

export function createMetrics(service: JobServiceApi, options: { defaultMetrics?: boolean } = {}): HttpMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const submissions = new Counter({
    name: 'cellpipe_job_submissions_total',
    help: 'Job submissions by result (accepted, rejected)',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  const duration = new Histogram({
    name: 'cellpipe_http_request_duration_seconds',
    help: 'HTTP request durations by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const jobCounts = async (): Promise<{ jobs: Map<string, number>; tasks: Map<string, number> }> => {
    const jobs = new Map<string, number>(JobStateSchema.options.map((s) => [s, 0]));
    const tasks = new Map<string, number>(TaskStateSchema.options.map((s) => [s, 0]));
    let cursor: string | undefined;
    do {
      const page = service.list({ limit: 500, cursor });
      for (const job of page.items) {
        jobs.set(job.state, (jobs.get(job.state) ?? 0) + 1);
        for (const [state, n] of Object.entries(job.taskCounts)) tasks.set(state, (tasks.get(state) ?? 0) + (n ?? 0));
      }
      cursor = page.nextCursor;
    } while (cursor);
    return { jobs, tasks };
  };

  // One scrape computes both gauges from a single walk of the job list.
  let pending: Promise<{ jobs: Map<string, number>; tasks: Map<string, number> }> | undefined;
  const counts = () => {
    pending ??= jobCounts().finally(() => {
      setImmediate(() => (pending = undefined));
    });
    return pending;
  };

  new Gauge({
    name: 'cellpipe_jobs',
    help: 'Jobs by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { jobs } = await counts();
      for (const [state, n] of jobs) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'cellpipe_tasks',
    help: 'Tasks by state',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const { tasks } = await counts();
      for (const [state, n] of tasks) this.set({ state }, n);
    },
  });

  const observe = (req: Request, res: Response, next: NextFunction) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The route pattern, not the URL: ids would explode the label set.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };

  return { registry, submissions, observe };
}

/**
 * Prometheus metrics. Each app gets its own registry (tests start many apps in one process).
 * Job and task gauges come from counts the store keeps in the same transactions as the states they
 * count, so they always agree with what the API reports.
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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

  // The store keeps these counts as jobs and tasks change state: a scrape reads a few rows.
  new Gauge({
    name: 'cellpipe_jobs',
    help: 'Jobs by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(service.stateCounts().jobs)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'cellpipe_tasks',
    help: 'Tasks by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(service.stateCounts().tasks)) this.set({ state }, n);
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

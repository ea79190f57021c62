/** Wire types of the results comparison across runs of one saved pipeline. */
import { z } from 'zod';
import { JobIdSchema, JobStateSchema } from './api.js';
import { PipelineNameSchema } from './pipelines-api.js';
import { ResultNameSchema, TaskResultsSchema } from './results.js';
import { TaskNameSchema } from './spec.js';

/** One column of a results comparison: a task's result. */
export const ResultColumnSchema = z.object({
  task: TaskNameSchema,
  name: ResultNameSchema,
  /** What its values are; `mixed` when runs disagree. */
  type: z.enum(['number', 'string', 'boolean', 'mixed']),
});

/** One run (job) of a pipeline in a comparison, with its results by task. */
export const ResultRunSchema = z.object({
  jobId: JobIdSchema,
  jobName: z.string(),
  state: JobStateSchema,
  /** The saved version it ran (absent for content never saved), and the content hash. */
  version: z.number().int().min(1).optional(),
  hash: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()),
  results: z.record(TaskNameSchema, TaskResultsSchema),
});

/** `GET /api/pipelines/:name/results`: results of the pipeline's runs, newest first. */
export const PipelineResultsSchema = z.object({
  name: PipelineNameSchema,
  owner: z.string(),
  /** Every task result any listed run has, by task then name. */
  columns: z.array(ResultColumnSchema),
  runs: z.array(ResultRunSchema),
  /** How many runs of the pipeline match over all pages. */
  total: z.number().int().min(0),
});

export const PipelineResultsQuerySchema = z.object({
  /** Another user's pipeline (admins). */
  user: z.string().min(1).max(128).optional(),
  /** Only runs in these states (comma-separated); default every state. */
  state: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(JobStateSchema).min(1, { message: 'name at least one job state' }))
    .optional(),
  /** Only runs of this saved version. */
  version: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export type ResultColumn = z.infer<typeof ResultColumnSchema>;
export type ResultRun = z.infer<typeof ResultRunSchema>;
export type PipelineResults = z.infer<typeof PipelineResultsSchema>;
export type PipelineResultsQuery = z.infer<typeof PipelineResultsQuerySchema>;

/**
 * Wire types of saved pipelines: immutable versions of a frozen bundle (the compiled spec plus the
 * text of every notebook and script it names), their diff and their export format.
 */
import { z } from 'zod';
import { JobContentFields, oneContent } from './api.js';
import { LabelsSchema } from './labels.js';
import { API_VERSION, NotifySchema, PipelineSchema, TaskNameSchema } from './spec.js';

/** Saved pipelines are named like the pipelines themselves (`metadata.name`). */
export const PipelineNameSchema = TaskNameSchema.describe('Saved pipeline name');

/** sha256 (hex) of a bundle's canonical JSON: identical content, identical hash. */
export const BundleHashSchema = z.string().regex(/^[a-f0-9]{64}$/, { message: 'not a bundle hash' });

/** What a version freezes: the spec and, by the path the spec names them, the files it runs. */
export const BundleSchema = z
  .object({
    pipeline: PipelineSchema,
    files: z.record(z.string().max(1024), z.string()),
  })
  .strict();

export const PipelineVersionSchema = z.object({
  name: PipelineNameSchema,
  owner: z.string(),
  /** 1, 2, 3 ... per pipeline, in the order saved. */
  version: z.number().int().min(1),
  hash: BundleHashSchema,
  author: z.string(),
  createdAt: z.string(),
  message: z.string(),
  tasks: z.array(TaskNameSchema),
});

export const PipelineVersionDetailSchema = PipelineVersionSchema.extend({ bundle: BundleSchema });

export const PipelineSummarySchema = z.object({
  name: PipelineNameSchema,
  owner: z.string(),
  versions: z.number().int().min(1),
  latest: PipelineVersionSchema,
  createdAt: z.string(),
  /** The pipeline's labels (not part of any version: who manages it, how to select it). */
  labels: LabelsSchema.optional(),
});

export const PipelineListSchema = z.object({ items: z.array(PipelineSummarySchema) });
export const PipelineVersionListSchema = z.object({ items: z.array(PipelineVersionSchema) });

/**
 * `POST /api/pipelines`: a notebook to compile, or a compiled pipeline with its files (as `cellpipe
 * run` sends them). `name` defaults to the pipeline's `metadata.name`.
 */
export const SavePipelineRequestSchema = z
  .object({
    ...JobContentFields,
    name: PipelineNameSchema.optional(),
    message: z.string().max(2000).optional(),
    /** Replace the pipeline's labels (absent: keep them). */
    labels: LabelsSchema.optional(),
    /** Check and compare only: nothing is saved (the answer says what a save would do). */
    dryRun: z.boolean().optional(),
  })
  .strict()
  .refine(...oneContent);

export const SavePipelineResultSchema = z.object({
  version: PipelineVersionSchema,
  /** false when the content was identical to an existing version (which is returned). */
  created: z.boolean(),
  /** The schedule `spec.schedule` declared, when the bundle has one (see the README). */
  schedule: z
    .object({ id: z.string(), name: z.string(), action: z.enum(['created', 'updated', 'unchanged']) })
    .optional(),
  /** The pipeline's labels after the save. */
  labels: LabelsSchema.optional(),
  /** True for a dry run: nothing was saved, `version` is the one a save would make or match. */
  dryRun: z.boolean().optional(),
  /** A dry run that would make a new version of an existing pipeline: what changes from the latest. */
  diff: z.lazy(() => PipelineDiffSchema).optional(),
});

/** One field that differs: a dotted path inside the task (or spec) and both values (absent = undefined). */
export const FieldChangeSchema = z.object({
  field: z.string(),
  from: z.unknown().optional(),
  to: z.unknown().optional(),
});

export const PipelineDiffSchema = z.object({
  name: PipelineNameSchema,
  from: z.number().int(),
  to: z.number().int(),
  identical: z.boolean(),
  tasks: z.object({
    added: z.array(TaskNameSchema),
    removed: z.array(TaskNameSchema),
    changed: z.array(z.object({ task: TaskNameSchema, fields: z.array(FieldChangeSchema) })),
  }),
  /** Pipeline-level fields (metadata, parameters, defaults, policies, schedule). */
  spec: z.array(FieldChangeSchema),
  files: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }),
});

/** `cellpipe pipelines export`: one self-contained YAML document. */
export const PIPELINE_EXPORT_KIND = 'PipelineExport';
export const PipelineExportSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(PIPELINE_EXPORT_KIND),
    metadata: z
      .object({
        name: PipelineNameSchema,
        version: z.number().int().min(1).optional(),
        hash: BundleHashSchema.optional(),
        author: z.string().optional(),
        createdAt: z.string().optional(),
        message: z.string().optional(),
      })
      .strict(),
    pipeline: PipelineSchema,
    files: z.record(z.string().max(1024), z.string()).default({}),
  })
  .strict();

/** `POST /api/pipelines/import`: an export document's text. */
export const ImportPipelineRequestSchema = z
  .object({
    yaml: z.string().min(1),
    name: PipelineNameSchema.optional(),
    message: z.string().max(2000).optional(),
  })
  .strict();

/** `POST /api/pipelines/:name/versions/:version/run` (version may be `latest`). */
export const RunVersionRequestSchema = z
  .object({
    parameters: z.record(z.string(), z.unknown()).optional(),
    name: z.string().max(200).optional(),
    /** Where this run's end is sent, on top of the pipeline's own `spec.notify`. */
    notify: NotifySchema.optional(),
  })
  .strict();

export type Bundle = z.infer<typeof BundleSchema>;
export type PipelineVersion = z.infer<typeof PipelineVersionSchema>;
export type PipelineVersionDetail = z.infer<typeof PipelineVersionDetailSchema>;
export type PipelineSummary = z.infer<typeof PipelineSummarySchema>;
export type PipelineList = z.infer<typeof PipelineListSchema>;
export type PipelineVersionList = z.infer<typeof PipelineVersionListSchema>;
export type SavePipelineRequest = z.infer<typeof SavePipelineRequestSchema>;
export type SavePipelineResult = z.infer<typeof SavePipelineResultSchema>;
export type FieldChange = z.infer<typeof FieldChangeSchema>;
export type PipelineDiff = z.infer<typeof PipelineDiffSchema>;
export type PipelineExport = z.infer<typeof PipelineExportSchema>;
export type ImportPipelineRequest = z.infer<typeof ImportPipelineRequestSchema>;
export type RunVersionRequest = z.infer<typeof RunVersionRequestSchema>;

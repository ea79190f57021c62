/**
 * What `cellpipe plan DIR` and `cellpipe apply DIR` read: a directory of YAML files, each one object.
 *
 * - `kind: Pipeline`, either a whole pipeline spec (as `cellpipe run pipeline.yaml` takes it, its
 *   tasks' notebooks and scripts next to it), or `notebook: train.ipynb`: a notebook next to the file,
 *   compiled with its tags, with `spec` overriding some of its pipeline settings.
 * - `kind: Schedule`: a schedule (the fields of `cellpipe schedule create`) and whether it is paused.
 *
 * `metadata.labels` become the object's labels on the server, with the label that says which
 * directory manages it (labels.ts).
 */
import { z } from 'zod';
import { LabelsSchema } from './labels.js';
import { CreateScheduleRequestSchema, ScheduleNameSchema } from './schedules-api.js';
import { API_VERSION, PipelineSpecSchema, TaskNameSchema } from './spec.js';

export const MANIFEST_KINDS = ['Pipeline', 'Schedule'] as const;

/** The pipeline settings a notebook pipeline's manifest may set over what its notebook says. */
export const PipelineOverridesSchema = PipelineSpecSchema.pick({
  notify: true,
  timeout: true,
  failurePolicy: true,
  maxParallel: true,
}).partial();

/** `kind: Pipeline` with `notebook:`: the notebook is compiled; `spec` replaces some of its settings. */
export const NotebookPipelineManifestSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Pipeline'),
    metadata: z
      .object({
        /** Default: the name the notebook compiles to. */
        name: TaskNameSchema.optional(),
        labels: LabelsSchema.optional(),
      })
      .strict()
      .default({}),
    /** A notebook in this file's directory (or below it). */
    notebook: z.string().min(1),
    spec: PipelineOverridesSchema.strict().optional(),
  })
  .strict();

export const ScheduleManifestSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Schedule'),
    metadata: z.object({ name: ScheduleNameSchema, labels: LabelsSchema.optional() }).strict(),
    spec: CreateScheduleRequestSchema.omit({ name: true, labels: true }),
  })
  .strict();

export type NotebookPipelineManifest = z.infer<typeof NotebookPipelineManifestSchema>;
export type ScheduleManifest = z.infer<typeof ScheduleManifestSchema>;
